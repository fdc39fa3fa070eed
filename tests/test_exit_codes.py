"""What ``imbllm-bench`` tells the shell: 0 when every run finished or was skipped, 1 when a run
failed while running (a single run with its sentence; a sweep naming the failed cells in its last
line, on the basic launcher and on ``hydra/launcher=local``); 2 for a configuration error is
tests/test_config_errors.py's, a SLURM array task's codes tests/test_launchers.py's. Subprocess
runs of a tiny grid; the sampler that fails on seed 1 is tests/failing_sampler.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from hydra import compose, initialize_config_dir

import imbllm.cli as cli
from imbllm.outcomes import sweep_outcome
from imbllm.pipeline import tracker_for
from imbllm.runspec import RunSpec, run_key
from imbllm.scale import ClaimStore

ROOT = Path(cli.CONF_DIR).parent
CELL = ["dataset=fuel", "method=smote", "method.sampler._target_=failing_sampler.FailsOnSeedOne",
        "synthetic_metrics.enabled=false", "experiment_name=exit"]
S1 = "fuel-smote-xgboost-corrected-r0.2-s1"


def _env(mirror_dir) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "IMBLLM_DATA_DIR": str(mirror_dir), "OMP_NUM_THREADS": "1"}


def bench(store: str, tmp_path: Path, mirror_dir, *args: str) -> subprocess.CompletedProcess:
    """``imbllm-bench`` on the fuel cells of the failing sampler, into ``store``."""
    out = f"hydra.sweep.dir={tmp_path}/sweep" if "-m" in args else f"hydra.run.dir={tmp_path}/run"
    cmd = [sys.executable, "-m", "imbllm.cli", *args, *CELL, f"tracking.uri={store}",
           f"data.dir={mirror_dir}", f"paths.cache={tmp_path}/cache", out]
    return subprocess.run(cmd, cwd=tmp_path, env=_env(mirror_dir), capture_output=True, text=True, timeout=300)


def statuses(store: str) -> list[tuple[str, str]]:
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name("exit").experiment_id])
    return sorted((r.data.tags["cell"], r.info.status) for r in runs)  # the run's full name


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_a_failing_run_exits_1_with_its_sentence(fresh_store, tmp_path, mirror_dir):
    proc = bench(fresh_store, tmp_path, mirror_dir, "seed=1")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last_line(proc.stderr) == (
        f"imbllm-bench: run {S1} failed (recorded FAILED in the tracking store): FailsOnSeedOne "
        "stops on seed 1 by design (a test of exit codes).")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert statuses(fresh_store) == [(S1, "FAILED")]


# CI runs the slow ones; the basic sweeper's failing sweep below stays in the default suite (the
# summary and exit code are the same callback on either launcher).
@pytest.mark.slow
def test_without_continue_on_error_a_sweep_stops_at_its_failed_cell(fresh_store, tmp_path, mirror_dir):
    proc = bench(fresh_store, tmp_path, mirror_dir, "-m", "seed=1,0", "continue_on_error=false")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last_line(proc.stderr).endswith("(a test of exit codes); the sweep stops here (continue_on_error=false).")
    assert statuses(fresh_store) == [(S1, "FAILED")]  # seed 0 never ran


def spec_of(store: str, mirror_dir, *overrides: str) -> RunSpec:
    """The spec of one of the cells (composed here, not run)."""
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", [*CELL, f"tracking.uri={store}", f"data.dir={mirror_dir}", *overrides])
    return RunSpec.from_config(cli.plain(cfg))


def test_a_sweep_exits_1_naming_its_failed_cell(fresh_store, tmp_path, mirror_dir):
    """seeds 0, 1: one finished, one failed (exit 1)."""
    proc = bench(fresh_store, tmp_path, mirror_dir, "-m", "seed=0,1")
    assert proc.returncode == 1, proc.stderr[-2000:]
    key = run_key(spec_of(fresh_store, mirror_dir, "seed=1"))
    assert last_line(proc.stderr) == (
        f"imbllm-bench: sweep of 2 runs: 1 finished, 0 skipped as done, 0 skipped as claimed "
        f"elsewhere, 1 failed: {S1} (run key {key}); their runs' `error` tags in the tracking store say why.")
    assert statuses(fresh_store) == [("fuel-smote-xgboost-corrected-r0.2-s0", "FINISHED"), (S1, "FAILED")]


# The counting itself is test_what_counts_is_what_ran_since_the_launch_began's, in-process.
@pytest.mark.slow
def test_a_sweep_of_done_finished_and_claimed_cells_exits_0_counting_each_kind(fresh_store, tmp_path, mirror_dir):
    """seeds 0, 1 (0 finished), then seeds 0, 2, 3 with 3 claimed by a live worker elsewhere:
    done, finished, claimed, none failed (exit 0)."""
    assert bench(fresh_store, tmp_path, mirror_dir, "-m", "seed=0,1").returncode == 1
    elsewhere = ClaimStore(fresh_store).claim(run_key(spec_of(fresh_store, mirror_dir, "seed=3")), owner="another launch")
    proc = bench(fresh_store, tmp_path, mirror_dir, "-m", "seed=0,2,3")
    elsewhere.release()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert last_line(proc.stdout) == ("imbllm-bench: sweep of 3 runs: 1 finished, 1 skipped as done, "
                                      "1 skipped as claimed elsewhere, 0 failed.")
    assert [s for _, s in statuses(fresh_store)] == ["FINISHED", "FAILED", "FINISHED"]  # seeds 0, 1, 2


@pytest.mark.slow
def test_a_sweep_on_the_local_launcher_exits_1_naming_its_failed_cell(fresh_store, tmp_path, mirror_dir):
    """Two worker processes run the cells; the launching process reads what they recorded."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    proc = bench(fresh_store, tmp_path, mirror_dir, "-m", "hydra/launcher=local", "seed=0,1")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last_line(proc.stderr).startswith(
        f"imbllm-bench: sweep of 2 runs: 1 finished, 0 skipped as done, 0 skipped as claimed "
        f"elsewhere, 1 failed: {S1} (run key ")


def test_what_counts_is_what_ran_since_the_launch_began(fresh_store, mirror_dir):
    """A key FAILED then FINISHED since the launch began (retaken after its worker died):
    finished; FAILED before the launch, or RUNNING elsewhere since before: claimed; FINISHED
    before: done; FAILED since: failed, named with its key."""
    specs = [spec_of(fresh_store, mirror_dir, f"seed={s}") for s in range(5)]
    tracker = tracker_for(specs[0])

    def run(seed, status):
        rid = tracker.client.create_run(tracker.experiment_id, tags={"run_key": run_key(specs[seed])}).info.run_id
        if status != "RUNNING":
            tracker.client.set_terminated(rid, status)

    run(1, "FAILED")
    run(2, "RUNNING")
    run(3, "FINISHED")
    time.sleep(0.01)
    since = int(time.time() * 1000)
    time.sleep(0.01)
    run(0, "FAILED")
    run(0, "FINISHED")
    run(4, "FAILED")
    out = sweep_outcome(specs, since)
    s4 = f"fuel-smote-xgboost-corrected-r0.2-s4 (run key {run_key(specs[4])})"
    assert (out.finished, out.done, out.claimed, out.failed) == (1, 1, 2, [s4])
    assert out.line().startswith("sweep of 5 runs: 1 finished, 1 skipped as done, 2 skipped as "
                                 f"claimed elsewhere, 1 failed: {s4}; ")
