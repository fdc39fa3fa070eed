"""The generated report: its tables, its verdicts, its figures, and a run from a real store."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_runs import make_runs

from imbllm.analysis.findings import comparison_paragraph
from imbllm.analysis.report import ReportOptions, build_report
from imbllm.analysis.stats import compare
from imbllm.analysis.summary import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def images(md: str, out: Path) -> list[Path]:
    return [out / p for p in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)]


def paragraph(md: str, label: str) -> str:
    return next(p for p in md.split("\n\n") if p.startswith(f"**{label}**"))


def test_tables_of_both_protocol_modes(planted_report):
    _, md = planted_report
    for heading in ("### F1: `f1_published`, published protocol, xgboost",
                    "### AUC: `auc_published`, published protocol, catboost",
                    "### F1: `f1_minority`, corrected protocol, xgboost",
                    "### AUC: `roc_auc`, corrected protocol, catboost",
                    "### `dum` (lower is better)", "### `fidelity_distance` (lower is better)"):
        assert heading in md
    # Synthetic tables hold the oversamplers only (standard and balance create no rows).
    dum_table = md.split("### `dum` (lower is better)")[1].split("###")[0]
    assert "| dataset | smote_nc | ctgan | tvae | imbllm |" in dum_table


def test_the_row_cap_is_reported_where_it_applied(planted_report):
    _, md = planted_report
    assert ("Synthetic sets above the default cap of 2000 rows (median rows generated): "
            "ds00 (5000).") in md


def corrected_f1(runs: pd.DataFrame) -> str:
    """The F1 paragraph of the corrected protocol, without building the whole report."""
    sl = runs[(runs["protocol"] == "corrected") & (runs["classifier"] == "xgboost")
              & (runs["method"] != "balance")]
    c = compare(sl, "f1_minority", "maximize", reference="imbllm")
    return comparison_paragraph(c, "F1 (corrected protocol, xgboost)")


def test_left_out_methods_and_datasets_are_named():
    runs = make_runs(n_datasets=5)
    runs = runs[~((runs["dataset"] == "ds01") & (runs["method"] == "tvae"))]
    assert ("Left out so that every method has every dataset: dataset ds01 left out: no value "
            "for tvae.") in corrected_f1(runs)


def test_without_the_reference_the_claims_are_not_checked():
    runs = make_runs(n_datasets=4)
    text = corrected_f1(runs[runs["method"] != "imbllm"])
    assert "ImbLLM has no complete results here" in text and "support the paper" not in text


def test_findings_follow_the_planted_numbers(planted_report):
    _, md = planted_report
    f1 = paragraph(md, "F1 (corrected protocol, xgboost)")
    assert "imbllm has the best average rank (1.00)" in f1
    assert "support the paper's claim that ImbLLM gives the best F1" in f1
    assert "significantly better than ctgan (10-0-0, Holm p = 0.008)" in f1
    auc = paragraph(md, "AUC (published protocol, xgboost)")
    assert "`imbllm` does not rank best: it is 3rd of 5 (average rank 3.00)" in auc
    assert "do not support the paper's claim that ImbLLM gives the best AUC: tvae" in auc
    assert "significantly worse than smote_nc (0-0-10" in auc
    dum = paragraph(md, "dum (corrected protocol)")
    assert "do not support the paper's claim that ImbLLM generates rows closest" in dum
    ratio = paragraph(md, "Distance to the unseen minority against the real rows alone.")
    assert "imbllm on 10 of 10" in ratio and "ctgan on 0 of 10" in ratio


def test_every_figure_is_written_and_stale_ones_removed(planted_report):
    out, md = planted_report
    figs = images(md, out)
    # 2 modes x (F1, AUC) + 11 synthetic metrics (dum_reference is not a method's score),
    # then one dum bar chart per dataset.
    assert sum(p.name.startswith("cd_") for p in figs) == 15
    assert sum(p.name.startswith("dum_") for p in figs) == 10
    # Built without embeddings: none drawn, and the report says why they are missing.
    assert not any(p.name.startswith("embedding_") for p in figs)
    assert md.count("The t-SNE figures of real and synthetic rows are left out") == 1
    assert all(p.read_bytes()[:8] == PNG for p in figs)
    assert not (out / "figures" / "cd_99_gone.png").exists()
    assert (out / "figures" / "keep_me.png").exists()


@pytest.mark.slow
def test_report_is_reproducible(planted_report, tmp_path):
    _, md = planted_report
    # The same store read back in another order gives the same text.
    shuffled = make_runs().sample(frac=1, random_state=0)
    options = ReportOptions(embeddings=False, source="the planted runs")  # as planted_report's
    assert build_report(shuffled, tmp_path, options).read_text() == md


def test_bad_requests_are_explained(tmp_path):
    with pytest.raises(ValueError, match="holds no finished runs"):
        build_report(make_runs().iloc[:0], tmp_path)
    with pytest.raises(ValueError, match=r"No run has ratio=0.5; the runs hold \[0.2\]"):
        build_report(make_runs(n_datasets=2), tmp_path, ReportOptions(ratio=0.5))


@pytest.mark.slow
def test_embeddings_use_the_rebuilt_split_and_each_runs_rows(tmp_path):
    runs = make_runs(n_datasets=2, seeds=(1, 2))
    calls = {"real": [], "synthetic": []}

    def load_real(dataset, seed, ratio):
        calls["real"].append((dataset, seed, ratio))
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame({"x": rng.normal(size=30), "c": rng.choice(list("ab"), 30)})
        return frame, frame.assign(x=frame["x"] + 1), ["x"], ["c"]

    def load_synthetic(run):
        calls["synthetic"].append(run["method"])
        if run["method"] == "ctgan":
            return None  # an artifact that could not be read
        return pd.DataFrame({"x": ["0.5"] * 20, "c": ["a"] * 20, "target": ["1"] * 20})

    md = build_report(runs, tmp_path, ReportOptions(n_points=25), load_synthetic=load_synthetic,
                      load_real=load_real).read_text()
    assert calls["real"] == [("ds00", 1, 0.2), ("ds01", 1, 0.2)]  # the smallest seed
    assert sorted(calls["synthetic"]) == sorted(["ctgan", "imbllm", "smote_nc", "tvae"] * 2)
    assert md.count("No synthetic rows could be read for: ctgan.") == 2
    assert "t-SNE figures of real and synthetic rows are left out" not in md
    assert all(p.read_bytes()[:8] == PNG for p in images(md, tmp_path)
               if p.name.startswith("embedding_"))


def test_make_report_reads_a_real_store(tmp_path, mirror_dir, monkeypatch, fresh_store):
    monkeypatch.setenv("IMBLLM_DATA_DIR", str(mirror_dir))
    uri = fresh_store
    _log_fake_store(uri, tmp_path)
    spec = importlib.util.spec_from_file_location("make_report", ROOT / "scripts" / "make_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, readme = tmp_path / "results", tmp_path / "README.md"
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n")
    # A README without its markers is refused before the report is built.
    assert module.main(["--tracking-uri", uri, "--out", str(out), "--readme", str(bare)]) == 1
    assert not out.exists() and bare.read_text() == "# no markers\n"
    readme.write_text(f"# imbllm\n\n{BEGIN}\n{END}\n\n## Layout\n")
    assert module.main(["--tracking-uri", uri, "--out", str(out), "--points", "30",
                        "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"# imbllm\n\n{BEGIN}\nFrom the tracking store `{uri}`: 6 finished")
    assert text.endswith(f"{END}\n\n## Layout\n")
    assert (out / "summary.md").read_text().rstrip() in text
    md = (out / "report.md").read_text()
    assert "- finished runs: 6" in md and "- datasets: fuel, insurance" in md
    assert "| fuel | 0.5000 (1 seed) | 0.6000 (1 seed) | **0.7000 (1 seed)** |" in md
    for dataset in ("fuel", "insurance"):
        assert (out / "figures" / f"embedding_{dataset}.png").read_bytes()[:8] == PNG
    assert "No synthetic rows could be read" not in md


def _log_fake_store(uri: str, tmp_path: Path) -> None:
    """Six runs in the shape the runner logs: params, run_key tag, metrics, synthetic.csv.

    Written with the client API, so no global MLflow state leaks into other tests, and with
    the artifacts under tmp_path (a sqlite store would otherwise use ./mlruns).
    """
    from mlflow.tracking import MlflowClient

    from imbllm.data import load_dataset
    from imbllm.protocol import make_split

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("paper", artifact_location=(tmp_path / "artifacts").as_uri())
    rng = np.random.default_rng(0)
    for dataset in ("fuel", "insurance"):
        data = load_dataset(dataset)
        split = make_split(data.X, data.y, seed=0, ratio=0.2)
        R = split.X_imb[split.y_imb == split.minority]
        for method, metrics in (("smote_nc", {"f1_minority": 0.6, "dum": 0.1}),
                                ("imbllm", {"f1_minority": 0.7, "dum": 0.2}),
                                ("standard", {"f1_minority": 0.5})):
            run = client.create_run(exp, tags={"run_key": f"{dataset}-{method}"}).info.run_id
            params = {"dataset": dataset, "method": method, "classifier": "xgboost",
                      "ratio": 0.2, "seed": 0, "protocol": "corrected"}
            for key, value in params.items():
                client.log_param(run, key, value)
            for key, value in {**metrics, "roc_auc": rng.uniform(), "dum_reference": 0.15}.items():
                client.log_metric(run, key, value)
            if method != "standard":
                S = R.sample(40, replace=True, random_state=0).assign(**{data.spec.target: "x"})
                S.to_csv(tmp_path / "synthetic.csv", index=False)
                client.log_artifact(run, str(tmp_path / "synthetic.csv"))
            client.set_terminated(run)


def test_comparison_experiments_are_set_beside_the_runs_not_pooled_with_them(planted_report,
                                                                          tmp_path):
    _, md = planted_report
    runs = make_runs()
    imb = runs[runs["method"] == "imbllm"]
    scratch = imb.assign(experiment="paper_llm", f1_minority=0.0, n_valid=10, n_requested=100)
    interp = pd.concat([imb.assign(experiment="imbllm_interpolation", interpolation_ratio=r,
                                   f1_minority=imb["f1_minority"] + r) for r in (0.0, 1.0)])
    both = pd.concat([runs.assign(n_valid=100, n_requested=100), scratch, interp])
    # paper_llm is the from-scratch record by default: set beside the runs, not pooled.
    out = build_report(both, tmp_path, ReportOptions(embeddings=False)).read_text()
    table = "### F1: `f1_minority`, corrected protocol, xgboost, ratio 0.2"
    assert out.split(table)[1].split("###")[0] == md.split(table)[1].split("###")[0]
    assert "### imbllm: `paper_llm` → now" in out
    assert "| ds00 | 10% → 100% | 0.0000 → " in out
    assert "## Interpolation amount (corrected protocol, xgboost)" in out
    assert (tmp_path / "figures" / "interpolation.png").read_bytes()[:8] == PNG


def test_make_report_rebuilds_from_exported_run_records(tmp_path, mirror_dir, monkeypatch,
                                                        fresh_store):
    monkeypatch.setenv("IMBLLM_DATA_DIR", str(mirror_dir))
    _log_fake_store(fresh_store, tmp_path)
    from imbllm.results import export_runs, load_runs

    records = export_runs(load_runs(fresh_store), tmp_path / "runs")
    spec = importlib.util.spec_from_file_location("make_report", ROOT / "scripts" / "make_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "results"
    assert module.main(["--runs", *map(str, records), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    # The header names the command that rebuilds it, arguments and all.
    assert (f"Generated by `python scripts/make_report.py --runs {records[0]} --out {out}` "
            "from the run records `paper.csv.gz`") in md and "- finished runs: 6" in md
    assert "| fuel | 0.5000 (1 seed) | 0.6000 (1 seed) | **0.7000 (1 seed)** |" in md
    assert not list((out / "figures").glob("embedding_*"))  # no synthetic rows in the records
    assert "The t-SNE figures of real and synthetic rows are left out" in md


def test_cd_diagrams_do_not_depend_on_the_hash_seed(tmp_path):
    import os
    import subprocess
    import sys

    from PIL import Image

    # Ties in the crossbars' stacking used to follow set order, i.e. PYTHONHASHSEED.
    script = (
        "import sys; sys.path.insert(0, sys.argv[2]); from fake_runs import make_runs\n"
        "from imbllm.analysis import figures; from imbllm.analysis.stats import compare\n"
        "r = make_runs(); r = r[(r.protocol == 'corrected') & (r.classifier == 'xgboost')]\n"
        "figures.cd_diagram(compare(r, 'pairwise_distance', 'maximize', reference='imbllm'), "
        "sys.argv[1])\n"
    )
    pixels = []
    for seed in ("1", "2"):
        out = tmp_path / f"cd_{seed}.png"
        subprocess.run([sys.executable, "-c", script, str(out), str(ROOT / "tests")], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
        pixels.append(np.asarray(Image.open(out)))
    assert pixels[0].shape == pixels[1].shape and (pixels[0] == pixels[1]).all()
