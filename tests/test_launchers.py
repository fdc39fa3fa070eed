"""The launcher presets compose with the plugins' schemas and pin the threads per job."""

from __future__ import annotations

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
