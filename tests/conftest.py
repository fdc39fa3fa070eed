"""Shared pytest fixtures, and what lets ``make test`` run the suite on a worker per core.

pytest-xdist hands each worker whole modules (``--dist loadfile``), so that a module's
fixtures, a fitted model or a started service, are built once. (``--dist loadgroup`` would
group tests by mark, but pytest-xdist 3.8 drops the groups under pytest 9.2: its issue 1386.)
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from pathlib import Path

import pytest

#: Fixtures shared by test modules: ``fresh_store`` (tests/stores.py).
pytest_plugins = ["stores"]

# Each xdist worker computes on one thread: two workers each asking for every core would fight
# over them. Set before a test module imports torch and inherited by the tests' subprocesses.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

# No test reaches a model hub: a hub id is looked up in the local cache only, and the engine's
# pre-run check says the hub cannot be reached instead of probing it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PNG = b"\x89PNG\r\n\x1a\n"


def pytest_collection_modifyitems(items):
    """Modules in the order ``make test`` hands them to its workers (``--no-loadscope-reorder``):
    those that start services first, as they mostly wait on them beside the other worker's
    work and would otherwise run last, alone; then the modules with the most tests."""
    size = Counter(item.path for item in items)
    # A stable sort: each module's tests stay together, in their order.
    items.sort(key=lambda item: (item.get_closest_marker("services") is None, -size[item.path]))


@pytest.fixture(scope="module", autouse=True)
def _freeze_what_is_alive():
    """One full garbage collection per test module instead of one per Holm correction.

    statsmodels' Holm correction (behind imbllm.analysis.stats.wilcoxon_holm) calls
    gc.collect() on every call, and a full collection walks every object alive: 0.2-0.5 s
    once torch, transformers and matplotlib are loaded, half the time of a report test.
    Collected once here, what is left alive is frozen, out of those walks; the module's own
    objects are still collected.
    """
    gc.collect()
    gc.freeze()


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


@pytest.fixture(scope="session")
def planted_report(tmp_path_factory) -> tuple[Path, str]:
    """The report on the planted runs (tests/fake_runs.py), built once for the report and
    summary tests: its folder (report.md, summary.md, figures/) and report.md's text.

    Under pytest-xdist the workers of one run share their folders' parent: the first worker
    to ask builds the report there, the other waits for it and reads it.
    """
    from fake_runs import make_runs
    from filelock import FileLock

    from imbllm.analysis.report import ReportOptions, build_report

    root = tmp_path_factory.getbasetemp()
    out = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "planted_report"
    with FileLock(f"{out}.lock"):
        if not (out / "report.md").exists():
            (out / "figures").mkdir(parents=True, exist_ok=True)
            (out / "figures" / "cd_99_gone.png").write_bytes(PNG)  # from an older store
            (out / "figures" / "keep_me.png").write_bytes(PNG)  # not ours: left alone
            options = ReportOptions(embeddings=False, source="the planted runs")
            build_report(make_runs(), out, options)
    return out, (out / "report.md").read_text()


@pytest.fixture
def fake(monkeypatch):
    """Route the LLM engine to the scripted stand-in model (tests/llm_fake.py); yields its
    class, on which every call is recorded."""
    from llm_fake import FakeLanguageModel, install

    yield install(monkeypatch)
    FakeLanguageModel.script = None
