"""Launches side by side into one store: every cell once, a killed launch resumed, wall time.

    OMP_NUM_THREADS=1 python scripts/bench_launches.py --work /tmp/launches
    OMP_NUM_THREADS=1 python scripts/bench_launches.py --work /tmp/l --uri http://127.0.0.1:5000 \\
        --claims-uri postgresql://imbllm@127.0.0.1/mlflow --only together

Runs a classical grid (default 24 cells: fuel, german x standard, random, smote x seeds 0, 1 x
both protocols) with ``hydra/launcher=local``, each part into a fresh store (SQLite under
``--work`` unless ``--uri``) and prints, per part, the cells, runs FINISHED, cells finished twice,
runs FAILED / KILLED / still RUNNING, and the wall time:

- ``together``: two launches at once, n_jobs=2 each;
- ``killed``: one launch killed with ``kill -9`` of its process group once ``--kill-after`` runs
  finished, then relaunched after the claim timeout;
- ``timing``: the grid alone at n_jobs=1, then n_jobs=2.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

GRID = ["dataset=fuel,german", "method=standard,random,smote", "seed=0,1", "protocol=published,corrected"]
EXPERIMENT = "launches"


def launch(uri: str, work: Path, name: str, n_jobs: int, grid=GRID, extra=(),
           experiment: str = EXPERIMENT) -> subprocess.Popen:
    """One ``imbllm-bench -m`` launch in a process group of its own, its output in ``<name>.log``."""
    cmd = [sys.executable, "-m", "imbllm.cli", "-m", *grid, "hydra/launcher=local",
           f"hydra.launcher.n_jobs={n_jobs}", f"tracking.uri={uri}", f"paths.cache={work}/cache",
           f"experiment_name={experiment}", f"hydra.sweep.dir={work}/sweeps/{name}", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    log = open(work / f"{name}.log", "w")  # noqa: SIM115 - the child writes it; closed with the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[1])


def counts(uri: str, experiment: str = EXPERIMENT) -> dict[str, int]:
    """Runs in the store by status, and how many cells (run keys) finished once / more."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=5000) if exp else []
    status = Counter(r.info.status for r in runs)
    done = Counter(r.data.tags["run_key"] for r in runs if r.info.status == "FINISHED")
    return {"cells_finished": len(done), "finished": status["FINISHED"],
            "cells_twice": sum(n > 1 for n in done.values()), "failed": status["FAILED"],
            "killed": status["KILLED"], "running": status["RUNNING"]}


def wait(procs, limit: float = 3600) -> list[int]:
    return [p.wait(timeout=limit) for p in procs]


def together(uri, work, grid=GRID, n_jobs=2, experiment=EXPERIMENT) -> dict:
    t0 = time.perf_counter()
    rc = wait([launch(uri, work, f"launch{i}", n_jobs, grid, (), experiment) for i in (1, 2)])
    return {**counts(uri, experiment), "exit_codes": rc, "seconds": round(time.perf_counter() - t0, 1)}


def killed(uri, work, grid=GRID, n_jobs=2, kill_after=4, timeout=6, experiment=EXPERIMENT) -> dict:
    """Kill a launch's whole process group once ``kill_after`` runs finished and one is
    RUNNING (so that the kill leaves an orphan), then relaunch after the claim timeout."""
    extra = [f"tracking.claim_timeout={timeout}"]
    p = launch(uri, work, "killed", n_jobs, grid, extra, experiment)
    while p.poll() is None:
        c = counts(uri, experiment)
        if c["finished"] >= kill_after and c["running"]:
            # Freeze the launch and look again: on a loaded machine the running cell could
            # finish between the look and the kill, which would leave no orphan.
            os.killpg(p.pid, signal.SIGSTOP)
            if counts(uri, experiment)["running"]:
                break
            os.killpg(p.pid, signal.SIGCONT)
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = counts(uri, experiment)
    time.sleep(timeout + 1)  # the dead launch's claims go stale
    rc = wait([launch(uri, work, "relaunch", n_jobs, grid, extra, experiment)])
    return {"at_kill": before, **counts(uri, experiment), "exit_codes": rc}


def timing(work, grid=GRID) -> dict:
    out = {}
    for n in (1, 2):
        d = work / f"timing{n}"
        d.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{d}/mlruns.db"
        t0 = time.perf_counter()
        rc = wait([launch(uri, d, "alone", n, grid)])
        out[f"n_jobs={n}"] = {"seconds": round(time.perf_counter() - t0, 1), **counts(uri), "exit_codes": rc}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a fresh folder for stores, caches and logs")
    ap.add_argument("--uri", default=None, help="tracking store (default: a SQLite file per part in --work)")
    ap.add_argument("--claims-uri", default=None, help="claims database (needed with a server --uri)")
    ap.add_argument("--only", nargs="*", default=["together", "killed", "timing"])
    args = ap.parse_args(argv)
    if args.claims_uri:
        os.environ["IMBLLM_CLAIMS_URI"] = args.claims_uri
    for part in args.only:
        work = args.work / part
        work.mkdir(parents=True, exist_ok=True)
        uri = args.uri or f"sqlite:///{work}/mlruns.db"
        if part == "timing":
            result = timing(work)
        else:  # an experiment of its own, so that parts sharing one server store are apart
            fn = {"together": together, "killed": killed}[part]
            result = fn(uri, work, experiment=f"{EXPERIMENT}-{part}-{time.strftime('%H%M%S')}")
        print(f"{part}: {len(expand(GRID))} cells, {result}", flush=True)
    return 0


def expand(grid) -> list[tuple]:
    from itertools import product

    return list(product(*(g.split("=", 1)[1].split(",") for g in grid)))


if __name__ == "__main__":
    sys.exit(main())
