"""A one-node SLURM cluster on localhost (munge + slurmctld + slurmd): job arrays complete,
array tasks race for one claim, and a sweep goes through ``hydra/launcher=slurm``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from services import have_slurm, script, service_dir, unavailable

from imbllm.scale import ClaimStore, prepare_store

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def slurm():
    """``SLURM_CONF`` of a fresh one-node cluster; stopped afterwards."""
    reason = have_slurm()
    if reason:
        unavailable(reason)
    root = service_dir()
    try:
        export = script("slurm.sh", "start", root)
        yield {"SLURM_CONF": export.split("=", 1)[1], "root": root}
    finally:
        script("slurm.sh", "stop", root)
        shutil.rmtree(root, ignore_errors=True)


def sbatch(env: dict, *args: str) -> str:
    out = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True,
                         env={**os.environ, "SLURM_CONF": env["SLURM_CONF"]}, check=True)
    return out.stdout.strip().split(";")[0]


def wait(env: dict, job: str, timeout: float = 240) -> dict[str, str]:
    """Wait until no task of ``job`` is queued or running; ``{task id: final state}``."""
    e = {**os.environ, "SLURM_CONF": env["SLURM_CONF"]}
    deadline = time.monotonic() + timeout
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True, env=e).stdout.strip():
        assert time.monotonic() < deadline, f"job {job} still queued after {timeout}s"
        time.sleep(1)
    show = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True,
                          env=e, check=True).stdout
    return dict(re.findall(r"ArrayTaskId=(\d+) .*?JobState=(\w+)", show))


def test_sbatch_array_completes(slurm, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    job = sbatch(slurm, "--array=0-3", f"--output={out}/%A_%a.log",
                 "--wrap", f"echo $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_JOB_ID > {out}/task_$SLURM_ARRAY_TASK_ID")
    assert wait(slurm, job) == {str(t): "COMPLETED" for t in range(4)}
    got = sorted((p.read_text().split() for p in out.glob("task_*")), key=lambda r: int(r[0]))
    assert got == [[str(t), job] for t in range(4)]


def test_array_tasks_claim_one_key_once(slurm, tmp_path):
    """Six array tasks claim one key and hold it: exactly one wins, and its owner names its
    SLURM job and task."""
    url = f"sqlite:///{tmp_path}/claims.db"
    ClaimStore(url).create_schema()
    worker = tmp_path / "claim.py"
    worker.write_text(textwrap.dedent(f"""
        import os
        from imbllm.scale import ClaimStore, prepare_store
        claim = ClaimStore({url!r}, timeout=600).claim("cell")
        task = os.environ["SLURM_ARRAY_TASK_ID"]
        open({str(tmp_path)!r} + "/result_" + task, "w").write("won" if claim else "skip")
    """))
    job = sbatch(slurm, "--array=0-5", f"--output={tmp_path}/%a.log",
                 "--wrap", f"{sys.executable} {worker}")
    assert set(wait(slurm, job).values()) == {"COMPLETED"}
    results = {p.name: p.read_text() for p in tmp_path.glob("result_*")}
    assert sorted(results.values()) == ["skip"] * 5 + ["won"]
    winner = next(n for n, r in results.items() if r == "won").split("_")[1]
    [holder] = ClaimStore(url).holders().values()
    assert holder["owner"].endswith(f" slurm={job}_{winner}")


def finished_methods(store: Path) -> list[tuple[str, str, str]]:
    """(method, seed, status) of every run in a SQLite store, read from MLflow's tables."""
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as c:
        rows = c.execute(sa.text(
            "SELECT m.value, s.value, r.status FROM runs r "
            "JOIN tags m ON m.run_uuid = r.run_uuid AND m.key = 'method' "
            "JOIN params s ON s.run_uuid = r.run_uuid AND s.key = 'seed' ORDER BY m.value, s.value"
        )).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def cell_args(tmp_path: Path) -> list[str]:
    """A small classical grid into a store of its own; the GPU preset fitted to the test node."""
    return [
        "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=null",
        "hydra.launcher.mem_gb=null", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10",
        f"tracking.uri=sqlite:///{tmp_path}/mlruns.db", f"paths.cache={tmp_path}/cache",
        "dataset=german", "synthetic_metrics.enabled=false", "experiment_name=slurm_test",
    ]


def run_env(slurm, mirror_dir) -> dict:
    return {**os.environ, "SLURM_CONF": slurm["SLURM_CONF"], "IMBLLM_DATA_DIR": str(mirror_dir),
            "PYTHONPATH": str(ROOT)}


# 21 s: CI runs it (-m slow); test_sbatch_array_completes keeps sbatch in the default suite.
@pytest.mark.slow
def test_sweep_through_hydra_slurm_launcher(slurm, tmp_path, mirror_dir):
    """Two cells through ``hydra/launcher=slurm`` (blocking): both FINISHED, one task each.

    The store is migrated first, as the launching process must (without it one of the two jobs
    died here in MLflow's migration: ``duplicate column name: step``)."""
    prepare_store(f"sqlite:///{tmp_path}/mlruns.db")
    cmd = [sys.executable, "-m", "imbllm.cli", "-m", "hydra/launcher=slurm", *cell_args(tmp_path),
           f"hydra.sweep.dir={tmp_path}/sweep", "method=standard,random", "seed=0"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=run_env(slurm, mirror_dir), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert finished_methods(tmp_path / "mlruns.db") == [("random", "0", "FINISHED"), ("standard", "0", "FINISHED")]
    assert len(list((tmp_path / "sweep" / ".submitit").rglob("*_log.out"))) == 2


# 35 s: CI runs it (-m slow); test_array_tasks_claim_one_key_once keeps the array's tasks in the default suite.
@pytest.mark.slow
def test_array_path_returns_at_once_and_runs_every_cell(slurm, tmp_path, mirror_dir):
    """scripts/slurm_array.py submits one array and returns while the tasks still run; every
    cell then finishes once."""
    cmd = [sys.executable, str(ROOT / "scripts" / "slurm_array.py"), *cell_args(tmp_path),
           "method=standard,random", "seed=0,1", "--jobs-dir", str(tmp_path / "jobs")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=run_env(slurm, mirror_dir), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = re.search(r"submitted array job (\d+) \(4 tasks\)", proc.stdout).group(1)
    assert wait(slurm, job) == {str(t): "COMPLETED" for t in range(4)}
    assert finished_methods(tmp_path / "mlruns.db") == [
        (m, s, "FINISHED") for m in ("random", "standard") for s in ("0", "1")
    ]
