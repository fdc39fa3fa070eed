"""Browse the runs: ``mlflow ui`` on loopback over the tracking store, its addresses printed.

    python scripts/mlflow_ui.py                  # results/mlruns.db, or $MLFLOW_TRACKING_URI
    python scripts/mlflow_ui.py --port 5001      # (make ui UI_PORT=5001)

Prints the UI's address and each experiment's runs page, in the model-training view
(:func:`imbllm.browse.ui_address`), then becomes ``mlflow ui`` (Ctrl-C stops it). A tracking
server (``MLFLOW_TRACKING_URI=http://...``, ``make tracking-server``) serves its own UI: its
addresses are printed and nothing is started.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else results/mlruns.db")
    ap.add_argument("--port", type=int, default=5000)
    args = ap.parse_args(argv)
    import mlflow

    from imbllm.browse import ui_address
    from imbllm.tracking import DEFAULT_URI

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    served = uri.startswith(("http://", "https://"))
    db = Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None
    if db is not None and not db.is_file():
        print(f"mlflow_ui: no tracking store at {db} (tracking uri {uri}); run `make run` first or set "
              "MLFLOW_TRACKING_URI.", file=sys.stderr)
        return 2
    base = uri.rstrip("/") if served else f"http://127.0.0.1:{args.port}"
    experiments = mlflow.tracking.MlflowClient(tracking_uri=uri).search_experiments()
    print(f"MLflow UI of {uri}" + ("" if served else " (Ctrl-C stops it)") + f":\n  {ui_address(base)}")
    for exp in experiments:
        print(f"  {exp.name}: {ui_address(base, exp.experiment_id)}")
    if served:
        return 0
    sys.stdout.flush()
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(args.port), "--workers", "2"]
    if db is not None:  # where the tracker puts a SQLite store's artifacts (imbllm.tracking)
        cmd += ["--artifacts-destination", str((db.parent / "mlartifacts").resolve())]
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover (execv does not return)


if __name__ == "__main__":
    raise SystemExit(main())
