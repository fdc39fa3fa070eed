"""MLflow logging of benchmark runs, with resume.

One MLflow run per (dataset, method, classifier, ratio, seed, protocol). Each carries the tag
``run_key`` (:func:`imbllm.runspec.run_key`: what decides the result) and ``key_version``; a
sweep launched again skips keys that already have a FINISHED run, so an interrupted sweep
resumes where it stopped. Runs logged under an older key version are recognised from the
configuration they logged (:func:`imbllm.runspec.key_from_logged_params`). A run is opened
once its configuration has been checked and closed FAILED, with the error's sentence as the
tag ``error``, if the work raises, so nothing is lost silently.

Every run also records where it ran (:func:`imbllm.provenance.run_tags`: CPU model, BLAS
libraries and kernels, thread counts, library versions) when it opens, so a FAILED run has
them too, and again when it finishes, once the work has loaded what it needed (torch's
thread count). They are provenance: the run key never holds them.

Experiments are created tagged as model-training experiments (:data:`imbllm.browse.EXPERIMENT_KIND`),
and an older one is tagged when a tracker opens it; what a run shows in the UI beyond its
numbers (name, description, dataset inputs) is :mod:`imbllm.browse`'s.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from imbllm.browse import EXPERIMENT_KIND
from imbllm.provenance import run_tags
from imbllm.runspec import flatten

log = logging.getLogger(__name__)

DEFAULT_URI = "sqlite:///results/mlruns.db"


@dataclass(frozen=True)
class RunTags:
    """The text that identifies a run in the store (metrics are numbers, logged apart)."""

    run_key: str
    key_version: str
    experiment: str
    dataset: str
    method: str
    family: str
    classifier: str
    protocol: str
    code_version: str
    command: str

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the checkout (with ``-dirty`` when it has changes), else 'unknown'."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _ensure_sqlite_dir(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


#: What two workers adding the same dataset row to one store at once raise (SQLite, PostgreSQL):
#: MLflow looks the row up, finds none in either worker, and both insert it. Called again, the
#: lookup finds the other worker's row and only links it to the run.
SAME_ROW_ADDED = ("UNIQUE constraint failed", "duplicate key value violates unique constraint")


def _retry(fn, *args, attempts: int = 20, also: tuple[str, ...] = (), **kwargs):
    """Call ``fn``, retrying while SQLite reports a lock (two sweeps writing one store), or an
    error whose text holds one of ``also``."""
    import time

    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MlflowException wraps sqlalchemy's OperationalError
            text = str(exc)
            if not any(m in text for m in ("locked", *also)) or i == attempts - 1:
                raise
            time.sleep(0.5 + 0.25 * i)


def error_sentence(error: BaseException) -> str:
    """What a failed run's ``error`` tag says: the error's text, else its type's name."""
    return str(error).strip() or type(error).__name__


class Tracker:
    """Thin wrapper over the MLflow client for one experiment."""

    def __init__(
        self,
        uri: str | None = None,
        experiment_name: str = "adhoc",
        legacy_key: Callable[[dict[str, str]], str | None] | None = None,
    ):
        import mlflow

        #: Maps the params of a run logged under an older key version to its current key.
        self.legacy_key = legacy_key
        self._legacy: dict[str, str] | None = None

        self.uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
        _ensure_sqlite_dir(self.uri)
        self.mlflow = mlflow
        self.client = mlflow.tracking.MlflowClient(tracking_uri=self.uri)
        exp = self.client.get_experiment_by_name(experiment_name)
        if exp is None:
            artifacts = None
            if self.uri.startswith("sqlite:///"):
                # Artifacts beside the database, not in the working directory.
                artifacts = (Path(self.uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
            self.experiment_id = self.client.create_experiment(experiment_name, artifact_location=artifacts,
                                                               tags=EXPERIMENT_KIND)
        else:
            self.experiment_id = exp.experiment_id
            for k, v in EXPERIMENT_KIND.items():
                if exp.tags.get(k) != v:  # made before experiments said their kind
                    _retry(self.client.set_experiment_tag, self.experiment_id, k, v)
        self.experiment_name = experiment_name
        self._artifact_uris: dict[str, str] = {}

    def finished(self, key: str) -> str | None:
        """The run id of a FINISHED run with this key (or an older run that maps to it)."""
        runs = _retry(
            self.client.search_runs,
            [self.experiment_id],
            filter_string=f"tags.run_key = '{key}' and attributes.status = 'FINISHED'",
            max_results=1,
        )
        if runs:
            return runs[0].info.run_id
        return self._legacy_index().get(key)

    def _legacy_index(self) -> dict[str, str]:
        # Read once per tracker: finished runs without a key_version, under their current key.
        if self._legacy is None:
            self._legacy = {}
            if self.legacy_key is not None:
                token = None
                while True:
                    page = _retry(self.client.search_runs, [self.experiment_id],
                                  filter_string="attributes.status = 'FINISHED'",
                                  max_results=1000, page_token=token)
                    for run in page:
                        if "key_version" not in run.data.tags:
                            key = self.legacy_key(run.data.params)
                            if key:
                                self._legacy.setdefault(key, run.info.run_id)
                    token = page.token
                    if not token:
                        break
        return self._legacy

    def start(self, tags: RunTags, name: str, params: dict, extra_tags: dict[str, str] | None = None,
              inputs: list | None = None) -> str:
        """Open a RUNNING run with its identifying tags (and ``extra_tags``, e.g. the SLURM
        job and its description), flattened params and dataset ``inputs``; its id."""
        run = _retry(self.client.create_run, self.experiment_id, run_name=name,
                     tags={**run_tags(), **tags.as_dict(), **(extra_tags or {})})
        rid = run.info.run_id
        self._artifact_uris[rid] = run.info.artifact_uri
        from mlflow.entities import Param

        items = [Param(k, v[:6000]) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, rid, params=items[i : i + 100])
        if inputs:
            _retry(self.client.log_inputs, rid, datasets=inputs, also=SAME_ROW_ADDED)
        return rid

    def artifact_uri(self, run_id: str) -> str:
        """Where the run's artifacts go."""
        if run_id not in self._artifact_uris:
            self._artifact_uris[run_id] = _retry(self.client.get_run, run_id).info.artifact_uri
        return self._artifact_uris[run_id]

    def finish(self, run_id: str, metrics: dict[str, float], tags: dict[str, str],
               artifacts: dict[str, str | bytes], inputs: list | None = None) -> None:
        """Log what the run produced (``tags`` over where it ran, artifacts, dataset ``inputs``)
        and close it FINISHED."""
        import time as _time

        from mlflow.entities import Metric, RunTag

        now = int(_time.time() * 1000)
        ms = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
        for i in range(0, len(ms), 200):
            _retry(self.client.log_batch, run_id, metrics=ms[i : i + 200])
        tags = {**run_tags(), **tags}
        _retry(self.client.log_batch, run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        with tempfile.TemporaryDirectory() as d:
            for name, content in artifacts.items():
                p = Path(d) / name
                p.write_bytes(content if isinstance(content, bytes) else content.encode())
            _retry(self.client.log_artifacts, run_id, d)
        if inputs:
            _retry(self.client.log_inputs, run_id, datasets=inputs, also=SAME_ROW_ADDED)
        _retry(self.client.set_terminated, run_id, "FINISHED")

    def fail(self, run_id: str, error: BaseException, tags: dict[str, str] | None = None) -> None:
        """Close the run FAILED; its error's sentence is the tag ``error`` (``tags`` beside it,
        e.g. the description that says so)."""
        from mlflow.entities import RunTag

        tags = {**(tags or {}), "error": error_sentence(error)[:5000], "error_type": type(error).__name__}
        _retry(self.client.log_batch, run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        _retry(self.client.set_terminated, run_id, "FAILED")

    def running(self, key: str) -> list[str]:
        """The ids of the runs with this key still RUNNING."""
        runs = _retry(self.client.search_runs, [self.experiment_id],
                      filter_string=f"tags.run_key = '{key}' and attributes.status = 'RUNNING'")
        return [r.info.run_id for r in runs]

    def kill(self, run_id: str) -> bool:
        """Close a run left RUNNING by a dead worker as KILLED; False if it had ended."""
        if _retry(self.client.get_run, run_id).info.status != "RUNNING":
            return False
        _retry(self.client.set_terminated, run_id, "KILLED")
        return True
