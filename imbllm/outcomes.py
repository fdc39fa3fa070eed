"""What the cells of a sweep came to, read from the tracking store: the line a sweep ends with.

A job that skips its cell records nothing, and the store records no launch, so a cell is judged
by the runs of its key and when they started:

- *finished*: a run of its key started since the launch began and FINISHED;
- *failed*: a run of its key started since then and FAILED, and none FINISHED (a cell retaken
  after its worker died may fail first and finish later);
- *skipped as done*: no run since then, and its key had FINISHED before;
- *skipped as claimed elsewhere*: neither; another worker holds its claim (its run still
  RUNNING, or not yet opened).

Reading the store rather than the jobs' return values makes the count the same on every
launcher (the jobs of ``hydra/launcher=local`` run in other processes). With two launches of one
grid at once, each counts what either of them ran since it began.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from imbllm.pipeline import tracker_for
from imbllm.runspec import RunSpec, run_key
from imbllm.tracking import Tracker, _retry

#: Exit code of ``imbllm-bench`` when a run failed while running (in a sweep: any cell).
RUN_FAILED_EXIT = 1

#: Failed cells named in the line; the rest are counted.
_NAMED = 10


@dataclass
class SweepOutcome:
    """How many cells of a sweep finished, were skipped, or failed (those named with their key)."""

    finished: int = 0
    done: int = 0
    claimed: int = 0
    failed: list[str] = field(default_factory=list)

    def line(self) -> str:
        n = self.finished + self.done + self.claimed + len(self.failed)
        text = (f"sweep of {n} runs: {self.finished} finished, {self.done} skipped as done, "
                f"{self.claimed} skipped as claimed elsewhere, {len(self.failed)} failed")
        if not self.failed:
            return text + "."
        named = "; ".join(self.failed[:_NAMED])
        if len(self.failed) > _NAMED:
            named += f"; {len(self.failed) - _NAMED} more"
        return f"{text}: {named}; their runs' `error` tags in the tracking store say why."


def _since(tracker: Tracker, since_ms: int) -> dict[str, set[str]]:
    """``{run key: statuses}`` of the runs of the tracker's experiment started since ``since_ms``."""
    out: dict[str, set[str]] = {}
    token = None
    while True:
        page = _retry(tracker.client.search_runs, [tracker.experiment_id],
                      filter_string=f"attributes.start_time >= {int(since_ms)}",
                      max_results=1000, page_token=token)
        for run in page:
            key = run.data.tags.get("run_key")
            if key:
                out.setdefault(key, set()).add(run.info.status)
        token = page.token
        if not token:
            return out


def sweep_outcome(specs: Iterable[RunSpec], since_ms: int) -> SweepOutcome:
    """What the cells ``specs`` came to in their stores, counting runs started since ``since_ms``
    (epoch milliseconds, the clock MLflow stamps a run's start with)."""
    cells = {run_key(s): s for s in specs}  # two cells of one key are one run
    groups: dict[tuple[str, str], list[str]] = {}
    for key, spec in cells.items():
        groups.setdefault((spec.tracking_uri, spec.experiment), []).append(key)
    out = SweepOutcome()
    for keys in groups.values():
        tracker = tracker_for(cells[keys[0]])
        since = _since(tracker, since_ms)
        for key in keys:
            got = since.get(key, set())
            if "FINISHED" in got:
                out.finished += 1
            elif "FAILED" in got:
                out.failed.append(f"{cells[key].name} (run key {key})")
            elif tracker.finished(key):
                out.done += 1
            else:
                out.claimed += 1
    return out
