"""The model cache within a byte budget (imbllm/llm/model/cache.py: prune).

Least recently used models go first (entries set aside as unreadable before any); a hit
counts as a use; an entry whose key lock is held is left alone; training checkpoints and
anything not named by a key are never touched; ``paths.cache_max_gb`` is checked where the
run's configuration is (tests/test_config_errors.py), and makes a run prune
``<paths.cache>/models`` when it ends.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from filelock import FileLock

from imbllm.llm.model.cache import cached_finetune, prune
from imbllm.pipeline import _prune_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import prune_cache  # noqa: E402


def key(i: int) -> str:
    return f"{i:064x}"


def entry(root: Path, name: str, size: int, used: float) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"x" * size)
    os.utime(path, (used, used))
    return path


@pytest.fixture
def cache(tmp_path):
    root = tmp_path / "models"
    paths = {
        "old": entry(root, key(1), 400, 1_000),
        "mid": entry(root, f"pretrained/{key(2)}", 300, 2_000),
        "new": entry(root, key(3), 200, 3_000),
        "bad": entry(root, f".{key(4)}.unreadable", 100, 9_000),
        "partial": entry(root, f".{key(5)}.partial", 1_000, 0),
        "other": entry(root, "notes", 1_000, 0),
    }
    return root, paths


def test_least_recently_used_go_first_until_within_the_budget(cache):
    root, p = cache
    out = prune(root, 550)
    # The unreadable entry first, then the oldest model: 1000 -> 500 bytes, within 550.
    assert out == {"bytes_before": 1000, "bytes_after": 500, "removed": 2, "kept": 2, "busy": 0}
    assert not p["bad"].exists() and not p["old"].exists()
    assert p["mid"].is_dir() and p["new"].is_dir()
    assert prune(root, 550)["removed"] == 0  # within the budget: nothing more to do
    assert prune(root, 250)["bytes_after"] == 200  # then the backbone, one folder down
    assert not p["mid"].exists() and p["new"].is_dir()
    assert p["partial"].is_dir() and p["other"].is_dir()  # never touched
    assert not [q for q in root.rglob("*pruned*")]  # nothing left aside


def test_an_entry_whose_lock_is_held_is_left_alone(cache):
    root, p = cache
    with FileLock(str(root / f".{key(1)}.lock")):  # being trained or stored
        out = prune(root, 250)
    assert out["busy"] == 1 and p["old"].is_dir()
    assert not p["mid"].exists() and not p["new"].exists() and out["bytes_after"] == 400


def test_a_hit_counts_as_a_use(cache):
    root, p = cache

    def never_trains(checkpoint):
        raise AssertionError("a hit trains nothing")

    lm, hit = cached_finetune(root, key(1), never_trains, load=lambda path, device=None: path)
    assert hit and lm == p["old"]
    prune(root, 500)  # the old entry was just used: the two others go
    assert p["old"].is_dir() and not p["mid"].exists() and not p["new"].exists()


def test_budget_checks_and_the_script(cache, capsys):
    root, p = cache
    with pytest.raises(ValueError, match="max_bytes"):
        prune(root, -1)
    assert prune(root.parent / "absent", 0)["removed"] == 0
    out = prune_cache.main([str(root), "--max-gb", "0"])
    assert out["kept"] == 0 and out["bytes_after"] == 0
    assert "removed 4 models, kept 0" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        prune_cache.main([str(root / "absent"), "--max-gb", "1"])


def test_a_run_prunes_the_model_cache_to_paths_cache_max_gb(cache):
    root, p = cache
    _prune_models(SimpleNamespace(cache_max_gb=None, cache_dir=str(root.parent)))
    assert p["old"].is_dir()  # no budget: every model kept
    _prune_models(SimpleNamespace(cache_max_gb=500e-9, cache_dir=str(root.parent)))
    assert not p["old"].exists() and p["new"].is_dir()
