"""Claims and a shared tracking server on a real PostgreSQL + ``mlflow server`` (loopback),
read back from the database directly, not only through MLflow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from services import free_port, have_postgres, script, service_dir, unavailable
from test_claims import _age, check_lifecycle, check_live_long_run, check_race

from imbllm.scale import ClaimLost, ClaimStore, prepare_store
from imbllm.scale.claims import TABLE

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def services():
    """PostgreSQL and an MLflow server on it, in a fresh folder; stopped afterwards."""
    reason = have_postgres()
    if reason:
        unavailable(reason)
    root = service_dir()
    db = script("postgres.sh", "start", root, free_port())
    try:
        server = script("mlflow_server.sh", "start", root, free_port())
        yield {"db": db, "server": server, "artifacts": root / "mlflow" / "artifacts"}
    finally:
        script("mlflow_server.sh", "stop", root)
        script("postgres.sh", "stop", root)
        shutil.rmtree(root, ignore_errors=True)


def test_race_one_winner_each_round_postgres(services):
    check_race(services["db"])


def test_claim_lifecycle_and_long_run_postgres(services):
    store = ClaimStore(services["db"], timeout=2.0, interval=0.2)
    store.create_schema()
    check_lifecycle(store)
    check_live_long_run(store)


def _runs_by_key(db: str, key: str) -> list[tuple[str, str]]:
    """(run id, status) of every run tagged ``run_key=key``, straight from MLflow's tables."""
    engine = sa.create_engine(db)
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                "WHERE t.key = 'run_key' AND t.value = :k ORDER BY r.start_time"
            ),
            {"k": key},
        ).all()
    engine.dispose()
    return [(r.run_uuid, r.status) for r in rows]


def test_dead_worker_run_killed_and_cell_finished_once_through_the_server(services):
    """The runner's claim protocol through the server: worker A claims a cell, opens its run
    and dies; B skips while A's claim is live, retakes it after the timeout, marks A's orphan
    KILLED and finishes; A, back, cannot finish. In PostgreSQL: one FINISHED run for the key."""
    from mlflow.tracking import MlflowClient

    db, uri = services["db"], services["server"]
    claims = prepare_store(uri, db, timeout=2.0)
    assert claims.url == db
    client = MlflowClient(uri)
    exp = client.create_experiment("claims-protocol")
    key = "k-dead-worker"

    a = claims.claim(key, owner="A")
    run_a = client.create_run(exp, tags={"run_key": key}).info.run_id
    a.attach(run_a)
    with claims.engine.connect() as c:  # the claims table, read directly
        row = c.execute(sa.text(f"SELECT owner, run_id FROM {TABLE} WHERE run_key = :k"), {"k": key}).one()
    assert (row.owner, row.run_id) == ("A", run_a)

    assert claims.claim(key, owner="B") is None  # A is live: B skips the cell
    _age(claims, key, 3.0)  # A died: no heartbeat for longer than the timeout
    b = claims.claim(key, owner="B")
    assert b is not None and b.taken.run_id == run_a
    with b:
        if client.get_run(b.taken.run_id).info.status == "RUNNING":
            client.set_terminated(b.taken.run_id, "KILLED")
        run_b = client.create_run(exp, tags={"run_key": key}).info.run_id
        b.attach(run_b)
        client.log_text(run_b, "made by B", "note.txt")
        b.check()
        client.set_terminated(run_b, "FINISHED")
    with pytest.raises(ClaimLost):
        a.check()  # A resumes: it must not record FINISHED

    assert _runs_by_key(db, key) == [(run_a, "KILLED"), (run_b, "FINISHED")]
    assert key not in claims.holders()  # B released
    notes = list(Path(services["artifacts"]).rglob("note.txt"))
    assert [p.read_text() for p in notes] == ["made by B"]  # in the shared artifact root
    with claims.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
