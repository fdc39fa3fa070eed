"""The launcher presets compose with the plugins' schemas and pin the threads per job."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from imbllm.cli import CONF_DIR


def launcher(choice: str, *overrides: str):
    pytest.importorskip(f"hydra_plugins.hydra_{'joblib' if choice == 'local' else 'submitit'}_launcher")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", [f"hydra/launcher={choice}", *overrides], return_hydra_config=True).hydra


@pytest.mark.parametrize("shell, threads", [(None, "1"), ("2", "2")])
def test_local_pins_threads_per_job(monkeypatch, shell, threads):
    """Each job's thread count is the shell's OMP_NUM_THREADS (1 when unset), whatever n_jobs,
    as strings (os.environ takes no int)."""
    if shell is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", shell)
    h = launcher("local", "hydra.launcher.n_jobs=3")
    assert get_class(h.launcher._target_).__name__ == "JoblibLauncher"
    assert h.launcher.n_jobs == 3 and h.launcher.prefer == "processes"
    env = {k: v for k, v in h.job.env_set.items()}
    assert env == {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}


def test_slurm_preset_and_its_overrides():
    h = launcher("slurm")
    assert get_class(h.launcher._target_).__name__ == "SlurmLauncher"
    assert (h.launcher.partition, h.launcher.gpus_per_node, h.launcher.cpus_per_task) == ("gpu", 1, 8)
    assert list(h.launcher.setup) == ["export OMP_NUM_THREADS=8", "export MKL_NUM_THREADS=8"]
    h = launcher("slurm", "hydra.launcher.gpus_per_node=null", "hydra.launcher.cpus_per_task=1")
    assert h.launcher.gpus_per_node is None and h.launcher.setup[0] == "export OMP_NUM_THREADS=1"


def _slurm_array():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    path = Path(__file__).resolve().parents[1] / "scripts" / "slurm_array.py"
    spec = importlib.util.spec_from_file_location("slurm_array", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_array_cells_as_hydra_expands_them(tmp_path):
    """An experiment's sweeper params, narrowed from the command line, become one line per
    cell; the submission's own overrides stay out of the cells and go into the batch script."""
    sa_ = _slurm_array()
    assert sa_.main(["experiment=quickstart", "seed=1", "hydra.launcher.gpus_per_node=null",
                     "hydra.launcher.array_parallelism=3", "--all", "--dry-run", "--jobs-dir", str(tmp_path)]) == 0
    cells = [shlex.split(line) for line in (tmp_path / "cells.txt").read_text().splitlines()]
    methods = [dict(o.split("=", 1) for o in c)["method"] for c in cells]
    assert methods == ["standard", "balance", "smote", "smote_nc", "imbllm"]
    assert all("seed=1" in c and "experiment=quickstart" in c for c in cells)
    assert not any(o.startswith("hydra.") for c in cells for o in c)
    script = (tmp_path / "array.sh").read_text()
    assert "#SBATCH --array=0-4%3" in script and "--gpus-per-node" not in script
    assert "#SBATCH --partition=gpu" in script and "export OMP_NUM_THREADS=8" in script


def test_array_cells_cartesian_product(tmp_path):
    sa_ = _slurm_array()
    cells, _, first = sa_.expand(["dataset=german,fuel", "method=smote,random", "seed=0,1", "ratio=0.1"])
    assert len(cells) == 8 and len({tuple(c) for c in cells}) == 8
    assert all("ratio=0.1" in c for c in cells)
    assert (first.dataset.name, first.method.name, first.seed) == ("german", "smote", 0)


def test_missing_services_skip_with_reason_or_fail_when_required(monkeypatch):
    """What the ``services`` tests do where a tool is absent: skip saying what to install, or
    fail under IMBLLM_REQUIRE_SERVICES=1 (what .ci/run sets)."""
    import services

    monkeypatch.setenv("PATH", "/nonexistent")
    assert services.have_slurm() == (
        "munged, slurmctld, slurmd, sbatch not found (apt-get install slurm-wlm munge)"
    )
    monkeypatch.setattr(services, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="slurm-wlm"):
        services.unavailable(services.have_slurm())
    monkeypatch.setattr(services, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="IMBLLM_REQUIRE_SERVICES=1 but munged"):
        services.unavailable(services.have_slurm())


def test_array_job_list_holds_only_unfinished_cells(tmp_path, fresh_store, mirror_dir):
    """A cell FINISHED in the store stays out of the job list; the others are all there."""
    from omegaconf import open_dict

    import imbllm.pipeline as pipeline
    from imbllm.cli import plain
    from imbllm.runspec import RunSpec, run_key

    sa_ = _slurm_array()
    args = [f"tracking.uri={fresh_store}", f"data.dir={mirror_dir}", f"paths.cache={tmp_path}/cache"]
    cells, _, first = sa_.expand(["dataset=fuel", "method=smote,random", "seed=0,1", *args])
    with open_dict(first):
        del first["hydra"]
    done = RunSpec.from_config(plain(first))  # fuel, smote, seed 0
    tracker = pipeline.tracker_for(done)
    rid = tracker.client.create_run(tracker.experiment_id, tags={"run_key": run_key(done)}).info.run_id
    tracker.client.set_terminated(rid, "FINISHED")
    assert sa_.main(["dataset=fuel", "method=smote,random", "seed=0,1", *args, "--dry-run",
                     "--jobs-dir", str(tmp_path / "jobs")]) == 0
    listed = [shlex.split(line) for line in (tmp_path / "jobs" / "cells.txt").read_text().splitlines()]
    assert listed == cells[1:] and len(listed) == 3
    assert "#SBATCH --array=0-2%" in (tmp_path / "jobs" / "array.sh").read_text()


def test_array_tasks_exit_as_the_run_does(tmp_path, fresh_store, mirror_dir, capsys):
    """A bad value the script can see stops it with code 2 before it writes anything; a task
    execs its run, so it exits 1 when the run fails (tests/failing_sampler.py stops on seed 1),
    2 on a bad value, 0 otherwise, as ``imbllm-bench`` does (tests/test_exit_codes.py)."""
    import os
    import subprocess

    sa_ = _slurm_array()
    root = Path(__file__).resolve().parents[1]
    args = ["dataset=fuel", "method=smote", "method.sampler._target_=failing_sampler.FailsOnSeedOne",
            "synthetic_metrics.enabled=false", f"tracking.uri={fresh_store}", f"data.dir={mirror_dir}",
            f"paths.cache={tmp_path}/cache", "hydra.launcher.cpus_per_task=1"]
    assert sa_.main([*args, "seed=-1", "--dry-run", "--jobs-dir", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith("slurm_array: seed=-1 is not valid:")
    assert not (tmp_path / "bad").exists()

    jobs = tmp_path / "jobs"
    assert sa_.main([*args, "seed=0,1", "--all", "--dry-run", "--jobs-dir", str(jobs)]) == 0
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "1",  # the cell of seed 1
           "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    task = subprocess.run(["bash", str(jobs / "array.sh")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert task.returncode == 1, task.stderr[-2000:]
    assert "fuel-smote-xgboost-corrected-r0.2-s1 failed" in task.stderr.strip().splitlines()[-1]


#: What cells share a pretrained backbone across (imbllm.llm.pretrain): its key ignores them.
SHARED_MODEL_ACROSS = ("method", "classifier", "protocol")


def test_neighbouring_cells_of_every_experiment_need_different_models():
    """Two workers taking neighbouring cells start on different models, not on one lock: in
    every experiment's sweep, whole or narrowed to one seed on the command line. Narrowed to
    one dataset and seed, every cell shares the backbone, but no two neighbours differ only by
    the classifier: those share one oversampled set, and the second would wait for the first."""
    from omegaconf import OmegaConf

    from imbllm.cli import split_cells

    names = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
    assert "paper_llm_pretrained" in names and "quickstart" in names
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for name in names:
            h = compose("config", [f"experiment={name}"], return_hydra_config=True).hydra
            params = OmegaConf.to_container(h.sweeper.params, resolve=True)
            for narrowed in ([], ["seed=1"], ["dataset=adult", "seed=0"]):
                cells = split_cells(params, narrowed)
                one_set = [tuple(o for o in c if not o.startswith("classifier=")) for c in cells]
                twins = [i for i in range(len(cells) - 1) if one_set[i] == one_set[i + 1]]
                assert not twins, (name, narrowed, cells[twins[0]], cells[twins[0] + 1])
                groups = [tuple(o for o in c if o.split("=")[0] not in SHARED_MODEL_ACROSS)
                          for c in cells]
                if len(set(groups)) > 1:
                    same = [i for i in range(len(cells) - 1) if groups[i] == groups[i + 1]]
                    assert not same, (name, narrowed, cells[same[0]], cells[same[0] + 1])
