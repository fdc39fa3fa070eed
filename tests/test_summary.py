"""The README's results block: the report's headline numbers, spliced between two markers."""

from __future__ import annotations

import pytest

from imbllm.analysis.summary import BEGIN, END, splice


@pytest.fixture(scope="module")
def block(planted_report):
    out, _ = planted_report
    return (out / "summary.md").read_text()


def row(block: str, label: str) -> list[str]:
    line = next(line for line in block.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_block_follows_the_planted_numbers(block):
    # 10 datasets x 6 methods x 2 classifiers x 2 modes x 3 seeds; balance is not compared.
    assert block.startswith("From the planted runs: 720 finished runs compared")
    # imbllm is planted first on F1 on every dataset, third on AUC, second on dum.
    f1 = row(block, "F1 (corrected protocol, xgboost)")
    assert f1[:4] == ["F1 (corrected protocol, xgboost)", "10", "imbllm (1.00)", "1st of 5 (1.00)"]
    assert f1[5] == "better than ctgan, smote_nc, standard and tvae"
    auc = row(block, "AUC (published protocol, xgboost)")
    assert auc[2:4] == ["tvae (1.00)", "3rd of 5 (3.00)"]
    assert auc[5] == "better than ctgan and standard; worse than smote_nc and tvae"
    dum = row(block, "dum (corrected protocol)")
    assert dum[2:4] == ["smote_nc (1.00)", "2nd of 4 (2.00)"]
    # pairwise_distance is drawn at random per run: imbllm leads by chance, not significantly.
    assert row(block, "pairwise_distance (corrected protocol)")[5] == "none significant (3 tested)"
    # Only the headline comparisons: no precision or copy_rate rows.
    assert "| precision" not in block and "| copy_rate" not in block


def test_block_gives_every_claim_its_verdict(block):
    claims = [line for line in block.splitlines() if line.startswith("- ")]
    assert len(claims) == 4  # F1/AUC in each mode, closer and diverse, entropy
    assert claims[0].startswith("- ImbLLM beats all eight baselines on F1 and AUC (published")
    # Best on F1, third on AUC: the claim holds on one of its two metrics.
    assert claims[0].endswith("**Partly supported: ImbLLM ranks best on some metrics only.**")
    # The planted runs hold no ablation: the entropy claim has nothing to compare with.
    assert claims[3].startswith("- Conditioning on the label")
    assert "**Not testable here" in claims[3]
    # Planted runs log no rows made, so there is no rows line.
    assert "Rows made" not in block


def test_splice_replaces_only_the_block_and_round_trips():
    readme = f"# Title\n\nintro\n\n{BEGIN}\nold numbers\n{END}\n\nafter\n"
    once = splice(readme, "new numbers\n")
    assert once == f"# Title\n\nintro\n\n{BEGIN}\nnew numbers\n{END}\n\nafter\n"
    assert splice(once, "new numbers") == once
    assert splice(once, "old numbers") == readme


@pytest.mark.parametrize("readme, found", [
    ("no markers\n", "found 0 and 0"),
    (f"{BEGIN}\n{BEGIN}\n{END}\n", "found 2 and 1"),
    (f"{END}\n{BEGIN}\n", "found 1 and 1"),
])
def test_splice_refuses_a_readme_without_one_ordered_pair_of_markers(readme, found):
    with pytest.raises(ValueError, match=f"once after it \\({found}\\)"):
        splice(readme, "x")


def test_rows_line_gives_each_method_its_share_and_counts_the_short_cells():
    import pandas as pd

    from imbllm.analysis.summary import rows_line

    base = dict(ratio=0.2, protocol="corrected", classifier="xgboost", seed=0)
    runs = pd.DataFrame([
        # ImbLLM: 100 of 100 on ds00, 97 of 100 on ds01 (one cell short of 99%)
        {**base, "dataset": "ds00", "method": "imbllm", "n_valid": 100, "n_requested": 100},
        {**base, "dataset": "ds01", "method": "imbllm", "n_valid": 97, "n_requested": 100},
        # TapTap's classifier relabels: 200 valid rows of 200, 50 of them minority
        {**base, "dataset": "ds00", "method": "taptap", "label": "classifier", "n_valid": 100,
         "n_requested": 100, "n_synthetic_minority": 20},
        {**base, "dataset": "ds01", "method": "taptap", "label": "classifier", "n_valid": 100,
         "n_requested": 100, "n_synthetic_minority": 30},
    ])
    assert rows_line(runs, "corrected") == (
        "- Rows made, corrected protocol (of those asked, all seeds): taptap 100% valid (25% "
        "minority), imbllm 98.5%; 1 (method, dataset) cells below 99%, named in the report.")
    full = runs[runs["n_valid"] == runs["n_requested"]]
    assert rows_line(full, "corrected").endswith("imbllm 100%; no cell below 99%.")
    assert rows_line(runs, "published") == ""
