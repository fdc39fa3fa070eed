"""Real launches side by side (``hydra/launcher=local``, n_jobs=2) into one fresh SQLite store:
every cell finished exactly once, none failed, also after a launch is killed with kill -9 of its
process group mid-grid and relaunched after the claim timeout (scripts/bench_launches.py)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
pytestmark = pytest.mark.slow

GRID = ["dataset=fuel,german", "method=standard,random,smote", "seed=0,1"]  # 12 cells


def _bench():
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_launches.py"
    spec = importlib.util.spec_from_file_location("bench_launches", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_launches_at_once_run_every_cell_once(tmp_path, mirror_dir, monkeypatch):
    monkeypatch.setenv("IMBLLM_DATA_DIR", str(mirror_dir))
    r = _bench().together(f"sqlite:///{tmp_path}/mlruns.db", tmp_path, GRID)
    assert r["exit_codes"] == [0, 0]
    assert (r["cells_finished"], r["finished"], r["cells_twice"], r["failed"], r["running"]) == (12, 12, 0, 0, 0)


def test_a_killed_launch_relaunched_finishes_every_cell_once(tmp_path, mirror_dir, monkeypatch):
    monkeypatch.setenv("IMBLLM_DATA_DIR", str(mirror_dir))
    r = _bench().killed(f"sqlite:///{tmp_path}/mlruns.db", tmp_path, GRID, kill_after=3, timeout=4)
    assert 3 <= r["at_kill"]["finished"] < 12 and r["at_kill"]["running"] >= 1, r["at_kill"]  # mid-run
    assert r["exit_codes"] == [0]
    assert (r["cells_finished"], r["finished"], r["cells_twice"], r["failed"], r["running"]) == (12, 12, 0, 0, 0)
    # Every run the kill left RUNNING is KILLED now.
    assert r["killed"] == r["at_kill"]["running"]
