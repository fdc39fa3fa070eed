"""The report's sections on generators from after the paper and on peer implementations
(imbllm/analysis/contenders.py): kept out of the paper's comparison, ranked with it in their
own section, their cost with the pretraining charged once, Holm's reach, the peer verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import make_runs

from imbllm.analysis import contenders, figures
from imbllm.analysis.report import ReportOptions, build_report
from imbllm.analysis.stats import rank_biserial


def test_holm_reach_with_ten_datasets_and_fifteen_comparisons():
    text = contenders.holm_reach(10, 15, 0.05)
    # Exact Wilcoxon: 2 / 2**10 for a sweep, 4 / 2**10 with one loss on the smallest rank.
    assert "is 0.0020 (the reference better on all 10" in text
    assert "0.0039 with one loss" in text
    assert "0.029 and 0.059 against alpha = 0.05, so only a record of 10 of 10 wins can" in text
    assert "record of 10 of 10 or 9 of 10 wins" in contenders.holm_reach(10, 5, 0.05)
    assert "no record can survive" in contenders.holm_reach(5, 15, 0.05)


def test_rank_biserial_is_the_signed_share_of_the_rank_sum():
    assert rank_biserial(np.array([0.3, 0.1, -0.2])) == pytest.approx(1 / 3)
    assert rank_biserial(np.array([0.1, 0.2, 0.0])) == 1.0  # zeros dropped, as Wilcoxon does
    assert rank_biserial(np.array([-0.1, -0.2])) == -1.0
    assert rank_biserial(np.array([0.0, 0.0])) == 0.0
    assert np.isnan(rank_biserial(np.array([])))


def _set(method, seed, fit, sample, pretrain=np.nan, hit=np.nan, start=0, dataset="d"):
    return {"method": method, "dataset": dataset, "seed": seed, "classifier": "xgboost",
            "protocol": "corrected", "fit_seconds": fit, "sample_seconds": sample,
            "pretrain": "table" if not np.isnan(pretrain) else "none",
            "pretrain_seconds": pretrain, "pretrain_cache_hit": hit, "start_time": start}


def test_costs_charge_the_pretraining_once_from_the_run_that_paid_it():
    runs = pd.DataFrame([
        # great paid the plain-number backbone (50 s inside its fit); imbllm loaded it.
        _set("great", 0, fit=80.0, sample=5.0, pretrain=50.0, hit=0, start=1),
        _set("imbllm", 0, fit=30.5, sample=10.0, pretrain=0.5, hit=1, start=2),
        # taptap's digit-by-digit backbone is another one, paid by taptap itself.
        _set("taptap", 0, fit=100.0, sample=5.0, pretrain=70.0, hit=0, start=3),
        _set("smote", 0, fit=0.1, sample=0.0, start=4),
        # seed 1: imbllm paid it itself (its fit holds it), great loaded it.
        _set("imbllm", 1, fit=90.0, sample=10.0, pretrain=60.0, hit=0, start=5),
        _set("great", 1, fit=20.2, sample=5.0, pretrain=0.2, hit=1, start=6),
    ])
    c = contenders.costs(runs, runs)
    assert c.loc["imbllm", "sets"] == 2
    # seed 0: 30 s fitting + 10 s sampling + great's 50 s; seed 1: 30 + 10 + its own 60.
    assert c.loc["imbllm", "fit"] == pytest.approx(30.0)
    assert c.loc["imbllm", "pretraining"] == pytest.approx(55.0)
    assert c.loc["imbllm", "total"] == pytest.approx(95.0)
    assert c.loc["great", "pretraining"] == pytest.approx(55.0)  # the same two backbones
    assert c.loc["taptap", "pretraining"] == pytest.approx(70.0)
    assert c.loc["smote", "pretraining"] == 0.0 and c.loc["smote", "total"] == pytest.approx(0.1)
    assert c.loc["imbllm", "hours"] == pytest.approx(190.0 / 3600)
    table = contenders.cost_table(c)
    assert "| imbllm | 2 | 30.00 | 10.00 | 55.00 | 95.00 | 0.05 |" in table
    assert "no recorded run paid" not in table
    # A backbone whose pretraining no recorded run paid: left out of the mean and named.
    loaded = runs[~(runs["method"] == "taptap")]._append(
        _set("taptap", 1, fit=40.3, sample=5.0, pretrain=0.3, hit=1, start=7), ignore_index=True)
    c = contenders.costs(loaded, loaded)
    assert np.isnan(c.loc["taptap", "pretraining"]) and c.loc["taptap", "unpaid"] == 1
    assert "(their pretraining left out of the mean): taptap 1 of 1." in contenders.cost_table(c)


@pytest.fixture
def quiet_figures(monkeypatch):
    monkeypatch.setattr(figures, "cd_diagram", lambda *a, **k: None)
    monkeypatch.setattr(figures, "dum_bars", lambda *a, **k: None)


def test_a_contender_is_ranked_in_its_own_section_and_not_in_the_papers(tmp_path,
                                                                        quiet_figures):
    runs = make_runs(n_datasets=10)
    # ARF's runs: SMOTE-NC's, 0.3 better on every score, so that it ranks first everywhere.
    mine = runs[runs["method"] == "smote_nc"].assign(method="arf", experiment="beyond_paper")
    mine[["f1_minority", "f1_published", "roc_auc"]] += 0.3
    both = pd.concat([runs, mine], ignore_index=True)
    out = tmp_path / "with"
    report = build_report(both, out, ReportOptions(embeddings=False)).read_text()
    alone = build_report(runs, tmp_path / "alone", ReportOptions(embeddings=False)).read_text()

    head, new = report.split("## ImbLLM against today's generators (corrected protocol)")
    new = new.split("\n## ")[0]
    # The paper's comparison is what it was without the contender, but for the header.
    assert head.split("## Findings")[1] == alone.split("## Findings")[1].split(
        "## Figures per dataset")[0]
    assert "arf" not in head.split("## Findings")[1]
    assert "**F1 (corrected protocol, xgboost)** (maximized; 10 datasets, 6 methods). arf has " \
           "the best average rank (1.00)." in new
    assert "| arf | 10 | 0 | 0 | 10 |" in new  # imbllm against it: ten losses of ten
    assert "by the 5 comparisons: 0.010 and 0.020" in new
    assert "paper's claim" not in new
    summary = (out / "summary.md").read_text()
    assert "`imbllm` ranks" in summary and "(best arf)" in summary


def _peer_runs(diffs, valid=100):
    rows = []
    for i, d in enumerate(diffs):
        for s in (0, 1, 2):
            for method, f1, made, exp in (("great", 0.5, 100, "paper_llm"),
                                          ("great_ref", 0.5 + d, valid, "great_ref")):
                rows.append({"experiment": exp, "method": method, "dataset": f"ds{i}",
                             "seed": s, "classifier": "xgboost", "protocol": "corrected",
                             "ratio": 0.2, "f1_minority": f1, "dum": 0.3, "n_valid": made,
                             "n_requested": 100})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("diffs, valid, verdict", [
    ([0.01, -0.03, 0.02], 100, "passes"),   # mean 0.0000
    ([0.05, 0.01, 0.02], 100, "fails"),     # mean +0.0267
    ([0.0, 0.0, 0.0], 98, "fails"),         # 98% of its rows
])
def test_the_peer_check_passes_within_its_tolerance_and_rows(diffs, valid, verdict):
    runs = _peer_runs(diffs, valid)
    peers, scratch = runs[runs["method"] == "great_ref"], runs[runs["method"] == "great"]
    md = "\n".join(contenders.peer_section(peers, scratch, classifier="xgboost",
                                           scratch_name="paper_llm"))
    assert md.startswith("## Peer implementations")
    assert f"| ds1 | 3 | {'100%' if valid == 100 else '98%'} | {0.5 + diffs[1]:.4f} | 0.5000 | " \
           f"{diffs[1]:+.4f} |" in md
    assert f"its mean minority F1 is {np.mean(diffs):+.4f} from `great`'s" in md
    assert f"The check **{verdict}**." in md
    assert "Over 3 datasets:" in md
    # A dataset the checked method has and the peer lacks is named beside the verdict.
    fewer = peers[peers["dataset"] != "ds2"]
    md = "\n".join(contenders.peer_section(fewer, scratch, classifier="xgboost",
                                           scratch_name="paper_llm"))
    assert "Over 2 datasets (of the 3 `great` has; no `great_ref` run on ds2):" in md
