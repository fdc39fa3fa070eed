"""What a run shows in the MLflow UI: its name, description, source, sweep and data.

MLflow's own conventions, so that the runs table and a run's page say what the run was:

- the experiment's kind (:data:`EXPERIMENT_KIND`), and the UI's address with the model-training
  view (:func:`ui_address`): MLflow 3.17's UI picks the view from its ``workflowType`` switch
  (the address, else the browser's last choice, else GenAI), earlier 3.x UIs from the tag;
- a short run name (:func:`run_name`); the full cell stays in the tags (``cell``, ``run_key``);
- the run's description (``mlflow.note.content``, :func:`description`), its entry point
  (``mlflow.source.name``) and the ``sweep`` it was launched in (:func:`sweep_id`);
- its data as dataset inputs (:func:`table_inputs`, :func:`synthetic_input`): the table for
  the training and the test split, and the synthetic rows, each with a digest that fits MLflow's
  column (a prefix of the checksum; the whole checksum is the input's tag ``sha256``).

Pure functions of the run's spec and results: :mod:`imbllm.pipeline` logs what they return.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path

from imbllm.runspec import RunSpec

#: The experiment tag MLflow 3 reads as the experiment's kind, and the model-training kind.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
#: MLflow's datasets table holds a digest of 36 characters; 16 hex characters (64 bits) of the
#: checksum tell tables apart and stay readable in the Dataset column.
DIGEST_CHARS = 16
#: The variable that carries a launch's sweep id to its workers (joblib, SLURM) by inheritance.
SWEEP_ENV = "IMBLLM_SWEEP"
#: The metrics a description names, in this order.
HEADLINE = ("f1_minority", "roc_auc", "pr_auc", "f1_published", "auc_published")
# Short forms in run names; any other classifier or protocol keeps its name.
_SHORT = {"xgboost": "xgb", "catboost": "cat", "corrected": "corr", "published": "pub"}
_CONTEXT = "mlflow.data.context"


def run_name(spec: RunSpec) -> str:
    """The run's name in the table: dataset, method and seed first (what a narrow column keeps),
    then classifier, protocol and ratio, e.g. ``fuel-smote-s0-xgb-corr-r0.2``."""
    clf, protocol = _SHORT.get(spec.classifier, spec.classifier), _SHORT.get(spec.protocol, spec.protocol)
    return f"{spec.dataset.name}-{spec.method.name}-s{spec.seed}-{clf}-{protocol}-r{spec.ratio}"


def sweep_id() -> str:
    """The launch this process's runs belong to: ``$IMBLLM_SWEEP``, else a new one (UTC time and
    four random hex digits), kept in the environment so that workers started later inherit it."""
    if not os.environ.get(SWEEP_ENV):
        os.environ[SWEEP_ENV] = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
    return os.environ[SWEEP_ENV]


def entry_point(command: str) -> str:
    """The program of a launch command (``OMP_NUM_THREADS=1 imbllm-bench -m ...``: imbllm-bench)."""
    words = [w for w in command.split() if "=" not in w or w.startswith("-")]
    return words[0] if words else command


def run_tags(spec: RunSpec, command: str) -> dict[str, str]:
    """The tags a run opens with: its cell, sweep, source and a description saying it runs."""
    return {
        "cell": spec.name,
        "sweep": sweep_id(),
        "mlflow.source.name": entry_point(command),
        "mlflow.source.type": "LOCAL",
        "mlflow.note.content": description(spec, command),
    }


def description(spec: RunSpec, command: str, metrics: dict | None = None, error: str | None = None) -> str:
    """One paragraph: what the run was, then how it did (or that it runs, or why it failed)."""
    setup = (f"`{spec.method.name}` ({spec.method.family}) on `{spec.dataset.name}`, classifier "
             f"`{spec.classifier}`, {spec.protocol} protocol, training minority kept at ratio "
             f"{spec.ratio}, seed {spec.seed}, test split {spec.test_size}")
    if error is not None:
        outcome = f"FAILED: {error}"
    elif metrics is None:
        outcome = "running; no score yet"
    else:
        scores = ", ".join(f"{k} **{metrics[k]:.4f}**" if k == "f1_minority" else f"{k} {metrics[k]:.4f}"
                           for k in HEADLINE if metrics.get(k) is not None)
        made = metrics.get("n_synthetic_minority")
        rows = "" if made is None else f"; {int(made)} synthetic minority rows made (synthetic.csv)"
        seconds = metrics.get("run_seconds")
        took = "" if seconds is None else f" in {seconds:.1f} s"
        outcome = f"{scores or 'no headline metric'}{rows}{took}"
    return f"{setup}: {outcome.rstrip('.')}. Launched by `{command[:1000]}`."


def _colspec(spec: RunSpec) -> str:
    from mlflow.types import ColSpec, Schema

    d = spec.dataset
    cols = ([ColSpec("double", c) for c in d.numeric or []] + [ColSpec("string", c) for c in d.categorical or []]
            + [ColSpec("string", d.target)])
    return json.dumps({"mlflow_colspec": Schema(cols).to_dict()})


def _entity(name: str, sha: str, source: tuple[str, dict], schema: str, rows: int | None, context: str,
            **tags: str):
    from mlflow.entities import Dataset, DatasetInput, InputTag

    profile = None if rows is None else json.dumps({"num_rows": rows})
    entity = Dataset(name=name, digest=sha[:DIGEST_CHARS], source_type=source[0], source=json.dumps(source[1]),
                     schema=schema, profile=profile)
    tags = {_CONTEXT: context, "sha256": sha, **tags}
    return DatasetInput(entity, [InputTag(k, str(v)[:500]) for k, v in tags.items()])


def table_source(source: str, path: str, openml_id: int | None) -> tuple[str, dict]:
    """MLflow's source of a loaded table: its OpenML page, else the file (mirror or own CSV)."""
    if source.startswith("openml") and openml_id is not None:
        return "http", {"url": f"https://www.openml.org/d/{openml_id}"}
    return "local", {"uri": str(Path(path).resolve())}


def table_inputs(spec: RunSpec, source: str, path: str, sha256: str, rows: int) -> list:
    """The table as the run's training and test data (one input each: MLflow keeps one link per
    name and digest), both with the table's checksum; the split's settings in their tags."""
    where = table_source(source, path, spec.dataset.openml_id)
    schema = _colspec(spec)
    split = {"seed": str(spec.seed), "test_size": str(spec.test_size), "ratio": str(spec.ratio)}
    name = spec.dataset.name
    return [_entity(name, sha256, where, schema, rows, "training", **split),
            _entity(f"{name}-test", sha256, where, schema, None, "test", **split)]


def synthetic_input(spec: RunSpec, csv_text: str, rows: int, artifact_uri: str):
    """The synthetic rows the run made, as logged in its artifact ``synthetic.csv``."""
    sha = hashlib.sha256(csv_text.encode()).hexdigest()
    uri = f"{artifact_uri.rstrip('/')}/synthetic.csv"
    where = ("local", {"uri": uri}) if uri.startswith(("file:", "/")) else ("external", {"url": uri})
    return _entity(f"{spec.dataset.name}-{spec.method.name}-synthetic", sha, where, _colspec(spec), rows,
                   "synthetic")


def ui_address(base: str, experiment_id: str | None = None) -> str:
    """The UI's page of an experiment's runs (or of the experiments), in the model-training view."""
    page = f"experiments/{experiment_id}" if experiment_id is not None else "experiments"
    return f"{base.rstrip('/')}/#/{page}?workflowType=machine_learning"
