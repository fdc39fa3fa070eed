"""scripts/compare_grids.py on hand-built run records: rows made, mean scores, verdicts."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from fake_runs import make_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from compare_grids import main, mean_scores, rows_made  # noqa: E402


def _sampling(method, seed, asked, made, classifier="xgboost", dropped=0.0):
    return dict(protocol="corrected", method=method, dataset="d", ratio=0.2, seed=seed,
                classifier=classifier, n_requested=asked, n_valid=made,
                rejected_label_not_minority=dropped)


def test_rows_made_counts_each_sampling_once_and_the_labellers_drops_as_valid():
    runs = pd.DataFrame([
        _sampling("imbllm", 0, 100, 100), _sampling("imbllm", 0, 100, 100, "catboost"),
        _sampling("imbllm", 1, 1000, 990), _sampling("imbllm", 2, 1000, 989),
        # Pred-LLM's model labelled 70 of its 100 valid rows majority: made 30, valid 100
        _sampling("pred_llm", 0, 100, 30, dropped=70),
    ])
    out = rows_made(runs).loc["corrected"]
    assert out.loc["imbllm"].tolist() == [3, 2, 0.989, 0.989]
    assert out.loc["pred_llm"].tolist() == [1, 0, 0.3, 1.0]


def test_mean_scores_read_each_protocols_own_metrics():
    runs = pd.DataFrame([
        dict(protocol="published", method="m", classifier="xgboost", f1_published=0.5,
             auc_published=0.7, f1_minority=0.0, roc_auc=0.0, dum=0.2),
        dict(protocol="corrected", method="m", classifier="xgboost", f1_published=0.0,
             auc_published=0.0, f1_minority=0.4, roc_auc=0.9, dum=0.1),
        dict(protocol="corrected", method="m", classifier="xgboost", f1_published=0.0,
             auc_published=0.0, f1_minority=0.6, roc_auc=0.8, dum=0.3),
        dict(protocol="corrected", method="m", classifier="catboost", f1_published=0.0,
             auc_published=0.0, f1_minority=1.0, roc_auc=1.0, dum=1.0),
    ])
    out = mean_scores(runs, "xgboost")
    assert out.loc[("published", "m")].tolist() == [0.5, 0.7, 0.2]
    assert out.loc[("corrected", "m")].tolist() == [0.5, 0.85, 0.2]


def test_a_verdict_that_moves_is_marked(tmp_path, capsys):
    before = make_runs().assign(experiment="grid")
    after = before.copy()
    worse = (after["method"] == "imbllm") & (after["protocol"] == "published")
    for col in ("f1_published", "auc_published"):
        after.loc[worse, col] -= 0.5  # last on both on every dataset
    other = make_runs(n_datasets=2)
    paths = {}
    frames = (("before", before), ("after", after), ("same", other.assign(experiment="grid")),
              ("other", other.assign(experiment="classical")))
    for name, frame in frames:
        paths[name] = tmp_path / f"{name}.csv.gz"
        frame.to_csv(paths[name], index=False)
    assert main(["--before", str(paths["before"]), "--after", str(paths["after"]),
                 "--runs", str(paths["same"]), str(paths["other"])]) == 0
    text = capsys.readouterr().out
    # the compared experiment's own records in --runs are left out, the others pooled
    assert (f"grid: {len(before)} runs before, {len(after)} after; the claims pool them with "
            f"{len(other)} runs of other experiments") in text
    claims = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(claims) == 4
    published = [line for line in claims if "(published protocol)" in line]
    assert len(published) == 1 and published[0].endswith("-> Not supported  (changed)")
    assert sum("(changed)" in line for line in claims) == 1


def test_two_experiments_are_refused(tmp_path, capsys):
    a = make_runs(n_datasets=2)
    path_a, path_b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    a.to_csv(path_a, index=False)
    a.assign(experiment="other").to_csv(path_b, index=False)
    assert main(["--before", str(path_a), "--after", str(path_b)]) == 2
    assert "must hold one experiment" in capsys.readouterr().err
