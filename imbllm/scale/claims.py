"""Every cell once, whoever launches it: a claim on a run key before the run starts.

The atomic primitive is one row per run key in a table ``imbllm_claims`` whose primary key is
the key, in a database every worker reaches (the SQLite file of a one-machine store, or the
PostgreSQL database behind a tracking server):

- **claim**: ``INSERT`` the row. The database enforces the primary key, so of N concurrent
  inserts exactly one succeeds and the others get an integrity error: they lost the race.
- **retake** a stale claim: read the row, then ``UPDATE ... WHERE key = ? AND token = <the token
  read> AND heartbeat < now - timeout``, and keep it only if one row changed. The token makes
  this a compare-and-set: of N workers retaking one dead claim, one changes the row and the
  others match nothing (PostgreSQL re-checks the WHERE on the row a concurrent update left;
  SQLite runs one writer at a time).
- **heartbeat**: ``UPDATE SET heartbeat = now WHERE key = ? AND token = <mine>`` from a daemon
  thread, every ``timeout / 4``; no row changed means the claim was retaken and is lost.
- **release**: ``DELETE WHERE key = ? AND token = <mine>``.

All times are the database's clock (one clock for the whole cluster, so node clock skew cannot
make a live claim look stale), in seconds since the epoch as a float. Each statement runs on its
own in autocommit mode, so no transaction spans a network round trip or holds a lock. A claim
only says who runs a key *now*; whether a key is finished stays the tracking store's answer, so
a runner checks "finished?" again after winning a claim (the previous owner finished, then
released, before this claim could succeed).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

log = logging.getLogger(__name__)

TABLE = "imbllm_claims"
_META = sa.MetaData()
_CLAIMS = sa.Table(
    TABLE,
    _META,
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
)

#: Seconds without a heartbeat after which a claim counts as its worker's death.
DEFAULT_TIMEOUT = 300.0


class ClaimLost(RuntimeError):
    """The claim was retaken by another worker (this one stopped heartbeating for too long)."""


def worker_id() -> str:
    """Who holds a claim: host, pid and the SLURM job (``array_task`` for an array task)."""
    job, array = os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_ARRAY_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    slurm = f" slurm={array}_{task}" if array and task else f" slurm={job}" if job else ""
    return f"{socket.gethostname()}:{os.getpid()}{slurm}"


def _now(dialect: str) -> sa.ColumnElement:
    """The database's clock in epoch seconds (real time, not the transaction's start)."""
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)")
    if dialect == "postgresql":
        return sa.literal_column("EXTRACT(EPOCH FROM clock_timestamp())")
    raise ValueError(f"claims url: dialect {dialect!r} is not supported; use sqlite:/// or postgresql://.")


@dataclass(frozen=True)
class Taken:
    """What a won claim displaced: the previous holder of a stale claim, if any."""

    owner: str
    run_id: str | None


class ClaimStore:
    """The claims table of one database (``sqlite:///...`` or ``postgresql://...``).

    Call :meth:`create_schema` once before work fans out (it is idempotent and tolerates a
    concurrent creator, but one call up front keeps DDL out of the hot path).
    """

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, interval: float | None = None):
        if timeout <= 0:
            raise ValueError(f"claims timeout must be positive seconds, got {timeout!r}.")
        self.url = url
        self.timeout = float(timeout)
        self.interval = float(interval) if interval else self.timeout / 4
        if self.interval >= self.timeout:
            raise ValueError(
                f"claims heartbeat interval {self.interval!r} must be below the timeout "
                f"{self.timeout!r}; use about a quarter of it."
            )
        args = {"timeout": 60} if url.startswith("sqlite") else {}
        # Autocommit: every statement below is atomic on its own; nothing waits inside a
        # transaction. NullPool: no connection kept across fork or idle for hours.
        self.engine = sa.create_engine(
            url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool, connect_args=args
        )
        self.now = _now(self.engine.dialect.name)

    def create_schema(self) -> None:
        try:
            _META.create_all(self.engine, checkfirst=True)
        except (OperationalError, ProgrammingError, IntegrityError):
            # Another process created it between the check and the CREATE.
            if not sa.inspect(self.engine).has_table(TABLE):
                raise

    def claim(self, key: str, owner: str | None = None) -> Claim | None:
        """Claim ``key``; ``None`` when a live claim (recent heartbeat) holds it elsewhere."""
        owner = owner or worker_id()
        token = uuid.uuid4().hex
        c_ = _CLAIMS.c
        with self.engine.connect() as c:
            if self._insert(c, key, token, owner):
                return Claim(self, key, token, owner)
            old = c.execute(
                sa.select(c_.token, c_.owner, c_.run_id).where(
                    c_.run_key == key, c_.heartbeat < self.now - self.timeout
                )
            ).first()
            if old is None:
                # A live claim, or its holder released between our INSERT and this read: one
                # more INSERT settles the second case without a loop.
                return Claim(self, key, token, owner) if self._insert(c, key, token, owner) else None
            won = c.execute(
                _CLAIMS.update()
                .where(c_.run_key == key, c_.token == old.token, c_.heartbeat < self.now - self.timeout)
                .values(token=token, owner=owner, run_id=None, claimed_at=self.now, heartbeat=self.now)
            ).rowcount
        if won != 1:
            return None
        log.warning("claim %s: retaken from %s (no heartbeat for %.0fs)", key, old.owner, self.timeout)
        return Claim(self, key, token, owner, taken=Taken(old.owner, old.run_id))

    def _insert(self, c: sa.Connection, key: str, token: str, owner: str) -> bool:
        """The atomic claim: False when the primary key is taken."""
        try:
            c.execute(_CLAIMS.insert().values(
                run_key=key, token=token, owner=owner, claimed_at=self.now, heartbeat=self.now
            ))
            return True
        except IntegrityError:
            return False

    def holders(self) -> dict[str, dict]:
        """Every current claim: ``{run_key: {owner, run_id, age, since_heartbeat}}``."""
        c_ = _CLAIMS.c
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(c_.run_key, c_.owner, c_.run_id,
                          (self.now - c_.claimed_at).label("age"),
                          (self.now - c_.heartbeat).label("since_heartbeat"))
            ).all()
        return {r.run_key: {"owner": r.owner, "run_id": r.run_id, "age": r.age,
                            "since_heartbeat": r.since_heartbeat} for r in rows}

    def _mine(self, key: str, token: str):
        return (_CLAIMS.c.run_key == key) & (_CLAIMS.c.token == token)

    def _update(self, key: str, token: str, **values) -> bool:
        with self.engine.connect() as c:
            return c.execute(_CLAIMS.update().where(self._mine(key, token)).values(**values)).rowcount == 1

    def _delete(self, key: str, token: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(_CLAIMS.delete().where(self._mine(key, token))).rowcount == 1


@dataclass(eq=False)
class Claim:
    """A held claim. As a context manager it heartbeats while the block runs and releases
    at the end; :meth:`check` raises :class:`ClaimLost` once the claim was retaken."""

    store: ClaimStore
    key: str
    token: str
    owner: str
    taken: Taken | None = None
    lost: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def heartbeat(self) -> bool:
        """Renew the claim; False (and :attr:`lost` set) if another worker holds it now."""
        if not self.lost.is_set() and not self.store._update(self.key, self.token, heartbeat=self.store.now):
            log.error("claim %s: lost (retaken by another worker); this run must not finish", self.key)
            self.lost.set()
        return not self.lost.is_set()

    def attach(self, run_id: str) -> None:
        """Record the tracking run this claim covers (a retaker marks it KILLED)."""
        if not self.store._update(self.key, self.token, run_id=run_id, heartbeat=self.store.now):
            self.lost.set()
            raise ClaimLost(f"claim on run key {self.key} was retaken before run {run_id} started.")

    def check(self) -> None:
        """Raise :class:`ClaimLost` unless this worker still holds the claim (call it just
        before recording the run FINISHED)."""
        if not self.heartbeat():
            raise ClaimLost(
                f"claim on run key {self.key} was retaken by another worker (no heartbeat for "
                f"{self.store.timeout:.0f}s); this run is not recorded as finished."
            )

    def release(self) -> bool:
        """Give the claim up; False if it had already been retaken."""
        self.stop()
        return self.store._delete(self.key, self.token)

    def start(self) -> Claim:
        """Heartbeat from a daemon thread every ``store.interval`` seconds."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name=f"claim-{self.key[:8]}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.store.interval):
            try:
                if not self.heartbeat():
                    return
            except Exception as exc:  # the database unreachable for a moment: try next tick
                log.warning("claim %s: heartbeat failed (%s); retrying", self.key, exc)

    def __enter__(self) -> Claim:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.release()
