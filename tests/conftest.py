"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Fixtures shared by test modules: ``fresh_store`` (tests/stores.py).
pytest_plugins = ["stores"]


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline dataset mirror: ``$IMBLLM_DATA_DIR``, else ``../shared/datasets``.

    Tests that need the paper's files are skipped, with the reason, where it is absent.
    """
    env = os.environ.get("IMBLLM_DATA_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not path.is_dir():
        pytest.skip(f"dataset mirror {path} not found; set IMBLLM_DATA_DIR to the folder of CSVs")
    return path


@pytest.fixture
def fake(monkeypatch):
    """Route the LLM engine to the scripted stand-in model (tests/llm_fake.py); yields its
    class, on which every call is recorded."""
    from llm_fake import FakeLanguageModel, install

    yield install(monkeypatch)
    FakeLanguageModel.script = None
