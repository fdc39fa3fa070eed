"""The method registry (imbllm.registry): every method config places its method, and a method
added as one YAML file reaches the report and the tables without a code edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_runs import make_runs
from hydra import compose, initialize_config_dir

import imbllm.cli as cli
from imbllm.analysis import figures
from imbllm.analysis.claims import ENTROPY_ABLATIONS
from imbllm.analysis.report import ReportOptions, build_report
from imbllm.analysis.tables import write_tables
from imbllm.registry import methods
from imbllm.runspec import RunSpec, run_key

CONF = Path(cli.CONF_DIR)


def test_every_method_config_places_its_method():
    reg = methods()
    assert sorted(reg.by_name) == sorted(p.stem for p in (CONF / "method").glob("*.yaml"))
    orders = [m.order for m in reg.by_name.values()]
    assert len(set(orders)) == len(orders)  # one place each: the tables' order is total
    # The paper's eight baselines (method.md §3-4), in its table's order.
    assert reg.role("baseline") == ("smote", "smote_nc", "adasyn", "ctgan", "tvae", "great",
                                    "taptap", "pred_llm")
    assert reg.proposed == "imbllm" and reg.upper_bounds == ("balance",)
    assert set(ENTROPY_ABLATIONS) <= set(reg.ablations(reg.proposed))  # the claim's ablations
    assert reg.variants == ("imbllm_no_feature_prompt", "imbllm_random_perm", "imbllm_no_interp",
                            "imbllm_no_pretrain", "imbllm_free", "great_free", "great_ref")
    assert [p[0] for p in reg.pairs()] == ["ImbLLM, pretraining: none → table",
                                           "ImbLLM, decoding: free → constrained",
                                           "GReaT, decoding: free → constrained",
                                           "GReaT, implementation: be_great → the harness's engine"]
    # Random oversampling: ranked with the paper's methods, outside its claims.
    assert reg.role("beyond") == ("random",)
    # The generators from after the paper (issue 24): a section of their own.
    assert reg.role("contender") == ("borderline_smote", "svm_smote", "kmeans_smote", "arf",
                                     "forestflow")
    # The plain-YAML reading of family agrees with Hydra's composition, through both kinds of
    # defaults (a shared file, another method).
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for name in ("smote", "great", "imbllm_free"):
            assert compose("config", [f"method={name}"]).method.family == reg.by_name[name].family


def _conf_copy(tmp_path: Path, name: str, text: str) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "method" / f"{name}.yaml").write_text(text)
    return conf


@pytest.mark.parametrize("text, message", [
    ("name: x\norder: 5\n", "role=None is not one of proposed, baseline"),
    ("name: x\nrole: baseline\n", "order=None is not a number"),
    ("name: x\nrole: ablation\nof: imbllm\norder: 5\n", "needs `label:`"),
    ("name: x\nrole: before\nof: nothing\nchange: 'a: b → c'\norder: 5\n", "of='nothing' names no method"),
])
def test_a_method_config_without_its_place_names_the_key_to_add(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        methods(_conf_copy(tmp_path, "x", text))


NEW_METHOD = """\
# A generator of one's own: this file is all that is added.
name: mygen
role: {role}
order: 45
family: classical
published_input: ordinal
sampler:
  _target_: baselines.classical.RandomOversampler
  sampling_strategy: ${{protocol.smote_strategy}}
  random_state: ${{seed}}
"""


@pytest.mark.parametrize("role", ["baseline", "beyond"])
def test_a_method_added_in_a_conf_copy_reaches_the_report_and_the_tables(tmp_path, monkeypatch,
                                                                         role):
    conf = _conf_copy(tmp_path, "mygen", NEW_METHOD.format(role=role))
    monkeypatch.setenv("IMBLLM_CONF_DIR", str(conf))
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = cli.plain(compose("config", ["method=mygen", "dataset=fuel"]))
    assert len(run_key(RunSpec.from_config(cfg))) == 24  # it runs as any other method
    # Its runs: SMOTE-NC's, 0.2 better on every score, so that it ranks first on F1.
    runs = make_runs(n_datasets=4)
    mine = runs[runs["method"] == "smote_nc"].assign(method="mygen")
    mine[["f1_minority", "f1_published"]] += 0.2
    runs = runs._append(mine, ignore_index=True)
    monkeypatch.setattr(figures, "cd_diagram", lambda *a, **k: None)  # not what is tested here
    monkeypatch.setattr(figures, "dum_bars", lambda *a, **k: None)
    report = build_report(runs, tmp_path / "out", ReportOptions(embeddings=False)).read_text()

    # Its place (order 45: after smote's 40, before smote_nc's 50) in every table and rank.
    assert "| dataset | standard | balance | mygen | smote_nc | ctgan | tvae | imbllm |" in report
    assert "| metric | N | Friedman p | CD | standard | mygen | smote_nc |" in report
    assert "**F1 (corrected protocol, xgboost)** (maximized; 4 datasets, 6 methods). mygen " \
           "has the best average rank (1.00)." in report
    assert "| mygen | 4 | 0 | 0 | 4 |" in report  # imbllm against it: four losses of four
    claim = next(line for line in report.splitlines() if "(corrected protocol).** " in line)
    if role == "baseline":  # one of the paper's baselines: the claims are tested against it
        assert "beats all nine baselines" in claim
        assert "against smote, mygen, smote_nc, adasyn, ctgan, tvae, great, taptap, pred_llm)" \
            in claim
    else:  # beyond the paper: ranked with the others, outside the claims
        assert "beats all eight baselines" in claim and "mygen" not in claim
    table = write_tables(runs.assign(start_time=0, end_time=1, code_version="x"),
                         tmp_path / "tables", "paper")
    f1 = next(t for t in table if t.path.name == "corrected_xgboost_f1_minority.md").body
    assert f1.splitlines()[0] == ("| dataset | standard | balance | mygen | smote_nc | ctgan | "
                                  "tvae | imbllm |")
    assert f1.splitlines()[-1].split(" | ")[3] == "1.00"  # mygen ranks first on average
