"""scripts/gpu_check.sh --dry-run: the JSON a lent GPU machine writes, made by a tiny model on
the CPU (one training step, one constrained sample). GPU figures are never measured in tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
RUN_KEYS = {
    "device", "dtype", "cpu_threads", "train_rows", "train_tokens", "train_tokens_per_s",
    "fit_seconds", "rows_requested", "valid_rows", "sample_seconds", "valid_rows_per_s",
    "peak_gpu_mb",
}


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_writes_the_full_schema_with_sane_values(tmp_path):
    # In this process (the imports are the suite's already); the shell wrapper's own test
    # is below.
    out = tmp_path / "check.json"
    _gpu_check().main(["--dry-run", "--out", str(out)])
    got = json.loads(out.read_text())
    assert set(got) == {"dry_run", "backbone", "gpu", "torch", "transformers", "python", "cuda",
                        "cpu", "seconds"}
    assert got["dry_run"] is True and got["cuda"] is None and got["seconds"] > 0
    cpu = got["cpu"]
    assert set(cpu) == RUN_KEYS and cpu["device"] == "cpu" and cpu["peak_gpu_mb"] is None
    # One training step of non-pad tokens, every requested row valid (constrained decoding).
    assert cpu["train_rows"] == 8 and 8 <= cpu["train_tokens"] < 8 * 64
    assert cpu["train_tokens_per_s"] > 0 and cpu["fit_seconds"] > 0
    assert cpu["valid_rows"] == cpu["rows_requested"] == 16
    assert cpu["valid_rows_per_s"] == pytest.approx(cpu["valid_rows"] / cpu["sample_seconds"])


def test_the_shell_wrapper_passes_a_dry_run_through_without_building_the_backbone(tmp_path):
    # PYTHON=echo shows what the wrapper would run: no 82M build under --dry-run, the
    # arguments as given, from the tree's root.
    env = {**os.environ, "PYTHON": "echo", "BACKBONE": str(tmp_path / "none")}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run", "--out", "x.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["scripts/gpu_check.py", "--dry-run", "--out", "x.json"]
