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

from imbllm.scale import ClaimStore

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
        from imbllm.scale import ClaimStore
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


def test_sweep_through_hydra_slurm_launcher(slurm, tmp_path, mirror_dir):
    """Two cells of a classical grid through ``hydra/launcher=slurm`` (the GPU preset's GPU and
    memory requests overridden): both FINISHED in the store the cluster's jobs wrote."""
    store = tmp_path / "mlruns.db"
    cmd = [
        sys.executable, "-m", "imbllm.cli", "-m", "hydra/launcher=slurm",
        "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=null",
        "hydra.launcher.mem_gb=null", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10",
        f"hydra.sweep.dir={tmp_path}/sweep", f"tracking.uri=sqlite:///{store}",
        f"paths.cache={tmp_path}/cache", "dataset=german", "method=standard,random", "seed=0",
        "synthetic_metrics.enabled=false", "experiment_name=slurm_test",
    ]
    env = {**os.environ, "SLURM_CONF": slurm["SLURM_CONF"], "IMBLLM_DATA_DIR": str(mirror_dir),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as c:
        rows = c.execute(sa.text(
            "SELECT t.value, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'method' ORDER BY t.value")).all()
    assert [tuple(r) for r in rows] == [("random", "FINISHED"), ("standard", "FINISHED")]
    logs = list((tmp_path / "sweep" / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2  # one SLURM task per cell
