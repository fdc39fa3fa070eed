"""The report's sections on the language-model engine (issue 12): the backbone before and
after (from scratch against pretrained on the table, free against constrained decoding), the
ablation table, and ImbLLM against its interpolation amount.

``main`` holds the runs under test; ``scratch`` the from-scratch record (experiment
``paper_llm``), compared method by method; ``interp`` the ``imbllm_interpolation`` runs. Each
section appears only when its runs exist.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imbllm.analysis import ablation, before_after, interpolation


def sections(main: pd.DataFrame, scratch: pd.DataFrame, interp: pd.DataFrame, fig_dir: Path, *,
             protocol: str, classifier: str, scratch_name: str | None,
             alpha: float = 0.05) -> list[str]:
    def at(runs):
        return runs[(runs["protocol"] == protocol) & (runs["classifier"] == classifier)]

    md = []
    blocks = before_after.section(at(main))
    if scratch_name and len(scratch):
        blocks += before_after.scratch_section(at(scratch), at(main), scratch_name)
    if blocks:
        md.append(f"## The engine before and after ({protocol} protocol, {classifier})\n")
        md.append("Per dataset, mean over seeds, `before → after`; `rows_made` = valid rows "
                  "made / rows asked; `after better` counts datasets in each metric's own "
                  "direction.\n")
        md += blocks
    blocks = ablation.section(at(main), alpha)
    if blocks:
        md.append(f"## Ablations ({protocol} protocol, {classifier})\n")
        md.append("ImbLLM, then ImbLLM without one component (method.md §2.6), seed means.\n")
        md += blocks
    blocks = interpolation.section(at(interp), fig_dir) if len(interp) else []
    if blocks:
        md.append(f"## Interpolation amount ({protocol} protocol, {classifier})\n")
        md.append("ImbLLM with `interpolation_ratio` interpolated training rows per row to "
                  "generate (experiment `imbllm_interpolation`); four datasets are too few "
                  "for a significance test: per-seed points, no p-value.\n")
        md += blocks
    return md
