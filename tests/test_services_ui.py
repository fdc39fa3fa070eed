"""The runs as users meet them: a two-run sweep (SMOTE on fuel, seeds 0 and 1) browsed in the
MLflow UI in a real Chromium (Debian's, driven by Playwright; no browser download), on the
SQLite store through `make ui`'s script and through the PostgreSQL-backed `mlflow server`.

It asserts what tests/test_browse.py reads from the store, as the page shows it: the address
opens on the runs table (not the GenAI overview), both runs are listed by their short names with
the table as their dataset, and a run's page shows its description, its ``f1_minority`` and the
synthetic rows artifact. Screenshots go to ``$IMBLLM_UI_SCREENSHOTS`` (else a temporary folder).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from services import free_port, unavailable
from test_services_postgres import services  # noqa: F401 (the fixture: PostgreSQL and its server)

from imbllm import browse

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["fuel-smote-s0-xgb-corr-r0.2", "fuel-smote-s1-xgb-corr-r0.2"]
WAIT_MS = 120_000  # a page on a loaded two-core machine


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium under Playwright."""
    path = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if path is None:
        unavailable("Chromium not found (apt-get install chromium-headless-shell)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable('playwright not installed (pip install -e ".[dev]")')
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    path = Path(os.environ.get("IMBLLM_UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def sweep(store: str, folder: Path, mirror_dir, *extra: str) -> subprocess.CompletedProcess:
    """``imbllm-bench -m`` over two seeds into ``store``, a fresh sweep id."""
    env = {k: v for k, v in os.environ.items() if k != browse.SWEEP_ENV}
    env.update(PYTHONPATH=str(ROOT), IMBLLM_DATA_DIR=str(mirror_dir), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "imbllm.cli", "-m", "dataset=fuel", "method=smote", "seed=0,1",
           "experiment_name=browse", f"tracking.uri={store}", f"paths.cache={folder}/cache",
           f"hydra.sweep.dir={folder}/sweep", *extra]
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def runs_of(uri: str) -> dict:
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("browse")
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def wait_healthy(base: str, proc: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, f"the UI exited: {log.read_text()[-2000:]}"
        try:
            urllib.request.urlopen(f"{base}/health", timeout=2)
            return
        except OSError:
            time.sleep(1)
    pytest.fail(f"no answer from {base} in {seconds} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def sqlite_ui(tmp_path_factory, mirror_dir):
    """The sweep in a fresh SQLite store, and `make ui`'s script serving it: the runs and the
    addresses it printed."""
    folder = tmp_path_factory.mktemp("browse")
    store = f"sqlite:///{folder}/mlruns.db"
    sweep(store, folder, mirror_dir)
    out, log = folder / "ui.out", folder / "ui.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": store}
    with open(out, "w") as fo, open(log, "w") as fe:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "mlflow_ui.py"), "--port", str(free_port())],
                                cwd=folder, env=env, stdout=fo, stderr=fe, start_new_session=True)
    try:
        for _ in range(600):
            if "  browse: http" in out.read_text() or proc.poll() is not None:
                break
            time.sleep(0.5)
        printed = dict(line.strip().split(": ", 1) for line in out.read_text().splitlines()
                       if line.startswith("  ") and ": " in line)
        assert "browse" in printed, out.read_text() + log.read_text()[-2000:]
        wait_healthy(printed["browse"].split("/#/")[0], proc, log)
        yield {"address": printed["browse"], "runs": runs_of(store)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def check_runs_table(page, address: str, runs: dict, shot: Path) -> None:
    """The address opens on the runs table, both runs listed by name with the fuel table."""
    from playwright.sync_api import expect

    page.goto(address)
    for name in NAMES:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible(timeout=WAIT_MS)
    assert "/runs" in page.url, page.url  # the runs tab, not the GenAI overview
    # The Dataset column: one cell per run (the grid keeps a row's pinned name cell apart).
    digest = next(iter(runs.values())).data.tags["data_sha256"][:browse.DIGEST_CHARS]
    expect(page.get_by_text(f"fuel ({digest})", exact=True)).to_have_count(len(NAMES), timeout=WAIT_MS)
    page.screenshot(path=str(shot))


def test_the_sweep_in_the_browser(sqlite_ui, browser, shots):
    from playwright.sync_api import expect

    runs = sqlite_ui["runs"]
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    check_runs_table(page, sqlite_ui["address"], runs, shots / "experiment.png")
    assert sorted(runs) == NAMES

    page.get_by_role("link", name=NAMES[0], exact=True).click()
    f1 = runs[NAMES[0]].data.metrics["f1_minority"]
    # The description, as the page renders its Markdown (no backticks, no stars).
    note = page.get_by_text("smote (classical) on fuel, classifier xgboost, corrected protocol, training minority")
    expect(note).to_be_visible(timeout=WAIT_MS)
    expect(note).to_contain_text(f", seed 0, test split 0.2: f1_minority {f1:.4f}, roc_auc ")
    expect(page.get_by_role("row").filter(has_text="f1_minority").first).to_contain_text(repr(f1))
    page.screenshot(path=str(shots / "run.png"))
    page.get_by_role("tab", name="Artifacts").click()
    expect(page.get_by_text("synthetic.csv", exact=True).first).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=str(shots / "artifacts.png"))
    page.close()


def test_the_sweep_through_the_postgres_server(services, browser, shots, tmp_path, mirror_dir):  # noqa: F811
    """The same inputs through the server: PostgreSQL holds 36 characters of a digest, where
    SQLite would keep any length; the runs table shows them the same."""
    sweep(services["server"], tmp_path, mirror_dir, f"tracking.claims_uri={services['db']}")
    runs = runs_of(services["server"])
    assert sorted(runs) == NAMES
    assert len({r.data.tags["sweep"] for r in runs.values()}) == 1
    for run in runs.values():
        contexts = sorted(t.value for i in run.inputs.dataset_inputs for t in i.tags
                          if t.key == "mlflow.data.context")
        assert contexts == ["synthetic", "test", "training"]
    exp = mlflow.tracking.MlflowClient(services["server"]).get_experiment_by_name("browse")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    check_runs_table(page, browse.ui_address(services["server"], exp.experiment_id), runs, shots / "server.png")
    page.close()
