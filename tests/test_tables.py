"""The paper's tables (imbllm.analysis.tables, imbllm.results): means, ranks in each metric's
own direction, bold, and the heads' provenance."""

import pandas as pd
import pytest

from imbllm.analysis.tables import sweep_commands, wall_time, write_tables
from imbllm.results import format_table, summary_table


def _runs(metric: str) -> pd.DataFrame:
    return pd.DataFrame({
        "dataset": ["a"] * 6 + ["b"] * 6,
        "method": ["smote", "smote", "imbllm", "imbllm", "balance", "balance"] * 2,
        "seed": [0, 1] * 6,
        metric: [0.5, 0.7, 0.6, 0.6, 0.9, 0.9, 0.2, 0.2, 0.1, 0.3, 0.5, 0.5],
    })


def test_table_mean_std_rank_and_best():
    runs = _runs("f1_minority")
    mean, std, rank = summary_table(runs, "f1_minority")
    assert mean.loc["a", "smote"] == pytest.approx(0.6) and std.loc["a", "smote"] == pytest.approx(0.1)
    assert rank.loc["a", "smote"] == 1.5 and rank.loc["b", "smote"] == 1.5  # ties share the rank
    assert "balance" not in rank.columns
    text = format_table(mean, std, rank)
    assert "**0.6000 (0.1000)**" in text and "**0.9000" not in text  # balance is never marked
    assert text.splitlines()[-1] == "| avg rank | — | 1.50 | 1.50 |"  # balance, smote, imbllm
    # One seed (here logged twice, as two classifiers share one seed's rows) has no spread.
    one = pd.concat([runs[runs.seed == 0]] * 2)
    mean, std, rank = summary_table(one, "f1_minority")
    assert std.isna().all().all()
    assert "| a | 0.9000 (1 seed) | 0.5000 (1 seed) | **0.6000 (1 seed)** |" in format_table(mean, std, rank)


def test_a_metric_to_minimise_ranks_and_marks_its_lowest_value_best():
    runs = _runs("dum").query("method != 'balance'")
    runs.loc[(runs.dataset == "b") & (runs.method == "smote"), "dum"] = 0.15
    mean, std, rank = summary_table(runs, "dum")
    assert rank.loc["b", "smote"] == 1.0 and rank.loc["b", "imbllm"] == 2.0  # 0.15 < 0.2
    assert "| b | **0.1500 (0.0000)** | 0.2000 (0.1000) |" in format_table(mean, std, rank)
    with pytest.raises(KeyError, match="No goal is known for metric 'f1'"):
        summary_table(runs.rename(columns={"dum": "f1"}), "f1")


def test_tables_name_the_commands_the_store_recorded():
    runs = pd.DataFrame({"command": ["imbllm-bench -m experiment=x"] * 3 + ["imbllm-bench -m experiment=x seed=3"]})
    assert sweep_commands(runs) == "`imbllm-bench -m experiment=x`; `imbllm-bench -m experiment=x seed=3`"
    assert sweep_commands(runs.assign(command=None)).startswith("not recorded")


def test_sweep_wall_time_leaves_out_the_gaps_between_sessions():
    minute = 60_000
    # Two overlapping runs (0-10, 5-20 min), a session gap, one run inside another (100-110,
    # 102-104 min): 110 min span, 30 min with a run in progress, 36 min of run time summed.
    runs = pd.DataFrame({"start_time": [0, 5, 100, 102], "end_time": [10, 20, 110, 104]}) * minute
    runs["run_seconds"] = [600, 900, 600, 60]
    assert wall_time(runs) == ("110.0 min from first start to last end (30.0 min with a run in "
                               "progress), 36.0 min summed over 4 runs")
    # Back-to-back runs: no gap, nothing to add.
    back = pd.DataFrame({"start_time": [0, 10 * minute], "end_time": [10 * minute, 20 * minute]})
    assert wall_time(back) == "20.0 min from first start to last end"


def test_each_protocol_writes_its_own_scores_with_the_paper_s_two_first(tmp_path):
    runs = pd.concat([_runs(m).assign(metric=m) for m in ("f1_minority", "accuracy")])
    runs = runs.assign(experiment="x", classifier="xgboost", ratio=0.2, start_time=0, end_time=1,
                       code_version="abc", protocol=runs["metric"].map(
                           {"f1_minority": "corrected", "accuracy": "published"}))
    written = write_tables(runs, tmp_path, "x")
    assert sorted(t.path.name for t in written) == ["corrected_xgboost_f1_minority.md",
                                                    "published_xgboost_accuracy.md"]
    head = written[0].path.read_text().splitlines()
    assert head[0] == "# f1_minority — x, protocol=corrected, classifier=xgboost"
    assert "best per dataset in bold (the 'balance' reference excluded)." in head[2]


def test_a_rebuild_from_the_same_runs_is_the_same_file(tmp_path):
    # The header names the runs' last end (2026-12-01 10:00 UTC), not the time of the build.
    last = 1_796_119_200_000
    runs = _runs("f1_minority").assign(experiment="x", classifier="xgboost", ratio=0.2,
                                       protocol="corrected", code_version="abc",
                                       start_time=last - 60_000, end_time=last)
    first = write_tables(runs, tmp_path / "a", "x")[0].path.read_bytes()
    again = write_tables(runs, tmp_path / "b", "x")[0].path.read_bytes()
    assert first == again
    assert f"From {len(runs)} runs, the last ended 2026-12-01 10:00 UTC." in first.decode()
