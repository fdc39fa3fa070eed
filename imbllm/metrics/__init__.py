"""Metrics of one run: classification (protocol.md §3) and synthetic data (§4).

:data:`GOALS` says, for every logged metric, whether lower or higher is better; tables, ranks
and tests read the direction from here and nowhere else.
"""

from __future__ import annotations

from imbllm.metrics.classification import CLASSIFICATION_METRICS, SCORES
from imbllm.metrics.synthetic import MAXIMIZE, METRIC_NAMES, METRICS, MINIMIZE, synthetic_metrics

SYNTHETIC_METRICS = METRIC_NAMES

#: Goal of every logged metric: every classification score is maximised; the synthetic ones
#: carry their own goal (see :data:`imbllm.metrics.synthetic.METRICS`).
GOALS: dict[str, str] = {
    **{name: MAXIMIZE for name in CLASSIFICATION_METRICS},
    **{m.name: m.goal for m in METRICS},
}


def goal(metric: str) -> str:
    """``"minimize"`` or ``"maximize"`` for a logged metric name."""
    try:
        return GOALS[metric]
    except KeyError:
        raise KeyError(
            f"No goal is known for metric {metric!r}; known metrics are {sorted(GOALS)}. "
            "Add it to imbllm/metrics/__init__.py (GOALS) with its direction."
        ) from None


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better."""
    return goal(metric) == MAXIMIZE


#: Per protocol mode, the logged scores that are the paper's "F1" and "AUC" there
#: (``{"published": {"F1": "f1_published", "AUC": "auc_published"}, ...}``).
HEADLINE: dict[str, dict[str, str]] = {
    mode: {s.headline: s.name for s in SCORES if s.protocol == mode and s.headline}
    for mode in dict.fromkeys(s.protocol for s in SCORES)
}


def protocol_scores(protocol: str) -> list[str]:
    """The scores a protocol mode's tables show: its "F1" and "AUC" first, then the others in
    table order; none for an unknown mode."""
    first = list(HEADLINE.get(protocol, {}).values())
    return first + [s.name for s in SCORES if s.protocol == protocol and s.name not in first]


__all__ = [
    "CLASSIFICATION_METRICS", "GOALS", "HEADLINE", "MAXIMIZE", "MINIMIZE", "SCORES",
    "SYNTHETIC_METRICS", "goal", "higher_is_better", "protocol_scores", "synthetic_metrics",
]
