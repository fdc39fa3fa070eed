"""Claims on run keys: one winner per race, stale claims retaken only after the timeout, live
claims never, and a worker whose claim was retaken cannot finish (SQLite here; the same tests
against PostgreSQL in test_services_postgres.py)."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from mlflow.tracking import MlflowClient

from imbllm.scale import (
    ClaimLost,
    ClaimStore,
    claims_url,
    prepare_store,
    schema_lock,
    slurm_tags,
    worker_id,
)
from imbllm.scale.claims import TABLE

ROUNDS, WORKERS = 50, 8


def _age(store: ClaimStore, key: str, seconds: float) -> None:
    """Make a claim look as if its last heartbeat was ``seconds`` ago (a dead worker)."""
    with store.engine.connect() as c:
        c.execute(sa.text(f"UPDATE {TABLE} SET heartbeat = heartbeat - :s WHERE run_key = :k"),
                  {"s": seconds, "k": key})


def _racer(url, key, barrier, results, worker):
    store = ClaimStore(url, timeout=30)
    for r in range(ROUNDS):
        barrier.wait()
        claim = store.claim(key, owner=f"w{worker}")
        results.put((r, worker, claim is not None, claim.taken is not None if claim else False))
        barrier.wait()  # every claimer has tried before the winner gives the key back
        if claim is not None and r % 2 == 0:
            claim.release()
        barrier.wait()  # odd rounds: the main process ages the winner's claim (it "died")
        barrier.wait()


def race(url: str) -> list[list[tuple[int, bool]]]:
    """8 processes claim one key, 50 rounds; even rounds start free (INSERT race), odd rounds
    start from a dead claim (retake race). Returns the winners of each round."""
    store = ClaimStore(url, timeout=30)
    store.create_schema()
    key = f"cell-{uuid.uuid4().hex}"  # a key no earlier test left behind
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS + 1), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(url, key, barrier, results, w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for r in range(ROUNDS):
        barrier.wait()
        barrier.wait()
        barrier.wait()
        if r % 2:
            _age(store, key, 10_000)
        barrier.wait()
    rows = [results.get(timeout=60) for _ in range(ROUNDS * WORKERS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    winners = [[(w, taken) for (rr, w, won, taken) in rows if rr == r and won] for r in range(ROUNDS)]
    return winners


def check_race(url: str) -> None:
    winners = race(url)
    assert [len(w) for w in winners] == [1] * ROUNDS, winners
    # Round 0 starts from an empty table; every later round starts from a dead claim (odd rounds
    # age the holder, even rounds' winners released, and the last odd round aged one), so the
    # winner of a round after a released key inserts, and after a dead one retakes.
    for r, [(_, taken)] in enumerate(winners):
        assert taken == (r % 2 == 0 and r > 0), (r, taken)


def test_race_one_winner_each_round_sqlite(tmp_path):
    check_race(f"sqlite:///{tmp_path}/claims.db")


@pytest.fixture
def store(tmp_path):
    s = ClaimStore(f"sqlite:///{tmp_path}/claims.db", timeout=2.0, interval=0.2)
    s.create_schema()
    return s


def check_lifecycle(store: ClaimStore) -> None:
    """Stale only after the timeout, live never, lost claims cannot finish."""
    a = store.claim("k", owner="a")
    assert a is not None and a.taken is None
    a.attach("run-a")
    assert store.claim("k", owner="b") is None  # live claim: skip
    _age(store, "k", store.timeout - 1.0)
    assert store.claim("k", owner="b") is None  # heartbeat 1s inside the timeout: still live
    _age(store, "k", 2.0)
    b = store.claim("k", owner="b")  # past the timeout: retaken, and told whose run it was
    assert b is not None and b.taken.owner == "a" and b.taken.run_id == "run-a"
    assert store.holders()["k"]["owner"] == "b"
    with pytest.raises(ClaimLost, match="retaken by another worker"):
        a.check()
    assert a.lost.is_set() and not a.heartbeat()
    assert a.release() is False  # a's release does not free b's claim
    assert store.holders()["k"]["owner"] == "b"
    b.check()
    assert b.release() is True and "k" not in store.holders()
    c = store.claim("k", owner="c")  # released: free at once
    assert c is not None and c.taken is None
    c.release()


def test_claim_lifecycle_sqlite(store):
    check_lifecycle(store)


def check_live_long_run(store: ClaimStore) -> None:
    """A run three timeouts long keeps its claim: the heartbeat thread renews it."""
    with store.claim("long", owner="a") as a:
        deadline = time.monotonic() + 3 * store.timeout
        tries = 0
        while time.monotonic() < deadline:
            assert store.claim("long", owner="b") is None
            tries += 1
            time.sleep(store.interval)
        a.check()
        assert store.holders()["long"]["since_heartbeat"] < store.timeout
    assert tries >= 10 and "long" not in store.holders()


def test_live_long_run_never_retaken(store):
    check_live_long_run(store)


def test_heartbeat_thread_sees_the_loss(store):
    a = store.claim("k", owner="a").start()
    _age(store, "k", 100)
    b = store.claim("k", owner="b")
    assert b is not None
    assert a.lost.wait(5 * store.interval)  # the thread noticed, without a check() call
    a.stop()
    assert store.holders()["k"]["owner"] == "b"
    b.release()


def test_bad_parameters_and_urls():
    with pytest.raises(ValueError, match="timeout must be positive"):
        ClaimStore("sqlite://", timeout=0)
    with pytest.raises(ValueError, match="interval 5.0 must be below the timeout 4.0"):
        ClaimStore("sqlite://", timeout=4, interval=5)
    assert claims_url("sqlite:///a/b.db") == "sqlite:///a/b.db"
    assert claims_url("postgres://u@h/db") == "postgresql://u@h/db"
    assert claims_url("http://h:5000", "postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError, match="set tracking.claims_uri"):
        claims_url("http://h:5000")
    with pytest.raises(ValueError, match="tracking.claims_uri='http://x' is not a database URL"):
        claims_url("http://h:5000", "http://x")


def test_slurm_tags(monkeypatch):
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(var, raising=False)
    assert slurm_tags() == {}
    monkeypatch.setenv("SLURM_JOB_ID", "17")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert slurm_tags() == {"slurm_job_id": "17", "slurm_array_task_id": "3"}
    assert worker_id().endswith(" slurm=17")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "15")
    assert worker_id().endswith(" slurm=15_3")


def _open_store(uri, barrier, errors):
    barrier.wait()
    try:
        with schema_lock(uri):
            MlflowClient(uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        errors.put(f"{type(exc).__name__}: {exc}")


def test_prepare_store_migrates_once_under_concurrency(tmp_path):
    """Four processes open one fresh SQLite store at once under the lock: none fails (without
    the lock 3 of 3 such trials failed, ``table alembic_version already exists``), and the
    schema is at MLflow's head with the claims table beside it."""
    uri = f"sqlite:///{tmp_path}/sub/mlruns.db"
    ctx = mp.get_context("fork")
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(uri, barrier, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert errors.empty() and [p.exitcode for p in procs] == [0] * 4
    claims = prepare_store(uri)
    tables = set(sa.inspect(claims.engine).get_table_names())
    assert {"runs", "experiments", "alembic_version", TABLE} <= tables
    with claims.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_claims_thread_safe_within_a_process(store):
    """Threads of one worker race too (the joblib threading backend): one winner."""
    won, barrier = [], threading.Barrier(8)

    def go(i):
        barrier.wait()
        if store.claim("t", owner=f"t{i}") is not None:
            won.append(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
