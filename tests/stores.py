"""A migrated, empty MLflow SQLite store, made once per test session and copied per test.

Creating an MLflow database runs its schema migrations (seconds on this machine); copying a
migrated file costs nothing, so tests that need a fresh store take a copy.
"""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def _template_store(tmp_path_factory):
    import mlflow

    path = tmp_path_factory.mktemp("template") / "mlruns.db"
    mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def fresh_store(_template_store, tmp_path) -> str:
    """The URI of an empty, migrated store of this test's own."""
    path = tmp_path / "store" / "mlruns.db"
    path.parent.mkdir()
    shutil.copy(_template_store, path)
    return f"sqlite:///{path}"
