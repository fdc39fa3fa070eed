"""MLflow logging of benchmark runs, with resume.

One MLflow run per (dataset, method, classifier, ratio, seed, protocol). Each carries the tag
``run_key``, a hash of the resolved configuration that decides the result; a sweep launched
again skips keys that already have a FINISHED run, so an interrupted sweep resumes where it
stopped. A run is opened before the work starts and closed FAILED (with the error) if the work
raises, so nothing is lost silently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_URI = "sqlite:///results/mlruns.db"


def run_key(parts: dict) -> str:
    """Stable hash of the configuration parts that decide a run's result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}} -> {"a.b": "1"}``, values as strings (MLflow params)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        # MLflow keys allow only alphanumerics and _ - . space : / (class names like "<=50K" do not).
        name = re.sub(r"[^\w\-. :/]", "_", f"{prefix}{k}")
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        else:
            out[name] = str(v)
    return out


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


def _retry(fn, *args, attempts: int = 20, **kwargs):
    """Call ``fn``, retrying while SQLite reports a lock (two sweeps writing one store)."""
    import time

    for i in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # MlflowException wraps sqlalchemy's OperationalError
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(0.5 + 0.25 * i)


class Tracker:
    """Thin wrapper over the MLflow client for one experiment."""

    def __init__(self, uri: str | None = None, experiment_name: str = "adhoc"):
        import mlflow

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
            self.experiment_id = self.client.create_experiment(experiment_name, artifact_location=artifacts)
        else:
            self.experiment_id = exp.experiment_id
        self.experiment_name = experiment_name

    def finished(self, key: str) -> str | None:
        """The run id of a FINISHED run with this key, if any."""
        runs = _retry(
            self.client.search_runs,
            [self.experiment_id],
            filter_string=f"tags.run_key = '{key}' and attributes.status = 'FINISHED'",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def start(self, key: str, name: str, params: dict, tags: dict) -> str:
        run = _retry(self.client.create_run, self.experiment_id, run_name=name, tags={"run_key": key, **tags})
        rid = run.info.run_id
        from mlflow.entities import Param

        items = [Param(k, v[:6000]) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):
            _retry(self.client.log_batch, rid, params=items[i : i + 100])
        return rid

    def finish(self, run_id: str, metrics: dict, tags: dict, artifacts: dict[str, str | bytes]) -> None:
        import time as _time

        from mlflow.entities import Metric, RunTag

        now = int(_time.time() * 1000)
        ms = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
        for i in range(0, len(ms), 200):
            _retry(self.client.log_batch, run_id, metrics=ms[i : i + 200])
        _retry(self.client.log_batch, run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        with tempfile.TemporaryDirectory() as d:
            for name, content in artifacts.items():
                p = Path(d) / name
                p.write_bytes(content if isinstance(content, bytes) else content.encode())
            _retry(self.client.log_artifacts, run_id, d)
        _retry(self.client.set_terminated, run_id, "FINISHED")

    def fail(self, run_id: str, error: BaseException) -> None:
        _retry(self.client.set_tag, run_id, "error", f"{type(error).__name__}: {error}"[:5000])
        _retry(self.client.set_terminated, run_id, "FAILED")
