"""The shared tracking store, prepared once before work fans out.

A fresh MLflow SQL store is created by the first client that opens it: it creates the tables,
then runs the Alembic migrations. Two workers opening one fresh store at once both see "no
tables" and both migrate; the loser dies with ``duplicate column name: client_request_id`` or
``Online migration expected to match one row`` (seen with two sweeps on one new SQLite file).
:func:`schema_lock` serialises that first open (a file lock beside a SQLite file, a PostgreSQL
advisory lock on a server database), so the first worker migrates and the others find the
schema at head; :func:`prepare_store` does it up front and also creates the claims table.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from imbllm.scale.claims import DEFAULT_TIMEOUT, ClaimStore

log = logging.getLogger(__name__)

#: PostgreSQL advisory lock id for store set-up (any constant the project owns).
_PG_LOCK_ID = 0x1B11_5CA1E


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgresql+", "postgres://"))


def _is_folder(url: str) -> bool:
    return url.startswith("file:") or "://" not in url


def claims_url(tracking_uri: str, claims_uri: str | None = None) -> str:
    """The database that holds the claims: ``claims_uri`` if given, else the tracking store's
    own database (a SQLite file or PostgreSQL); a tracking server needs ``claims_uri``."""
    if not claims_uri and _is_folder(tracking_uri):
        # A local folder store has no database: the claims get a SQLite file of their own in it.
        folder = Path(tracking_uri[len("file://"):] if tracking_uri.startswith("file://") else tracking_uri)
        return f"sqlite:///{folder.resolve() / 'imbllm_claims.db'}"
    url = claims_uri or tracking_uri
    if url.startswith("postgres://"):  # SQLAlchemy knows only the long scheme
        url = "postgresql://" + url[len("postgres://"):]
    if _is_sqlite(url) or _is_postgres(url):
        return url
    if claims_uri:
        raise ValueError(
            f"tracking.claims_uri={claims_uri!r} is not a database URL; use sqlite:///<file> or "
            "postgresql://user@host/db."
        )
    raise ValueError(
        f"tracking.uri={tracking_uri!r} is not a database the workers can claim runs in; set "
        "tracking.claims_uri (or IMBLLM_CLAIMS_URI) to the PostgreSQL database behind the server."
    )


@contextlib.contextmanager
def schema_lock(tracking_uri: str, claims_uri: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the store's set-up, across processes and (for PostgreSQL)
    machines; open the MLflow store and create experiments inside it."""
    url = claims_url(tracking_uri, claims_uri)
    if _is_sqlite(url):
        from filelock import FileLock

        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):
            yield
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_ID})
        try:
            yield
        finally:
            c.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_ID})
    engine.dispose()


def prepare_store(
    tracking_uri: str, claims_uri: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ClaimStore:
    """Migrate the MLflow store and create the claims table, once; safe from every worker.

    Call it in the launching process before the sweep fans out (or first thing in each
    worker: the lock makes the later calls a cheap check). Returns the claims store.
    """
    from mlflow.tracking import MlflowClient

    with schema_lock(tracking_uri, claims_uri):
        # Opening a SQL store runs its migrations; a server migrated its own at start.
        MlflowClient(tracking_uri).search_experiments(max_results=1)
        claims = ClaimStore(claims_url(tracking_uri, claims_uri), timeout=timeout)
        claims.create_schema()
    log.info("tracking store %s ready (claims in %s)", tracking_uri, _safe(claims.url))
    return claims


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def slurm_tags() -> dict[str, str]:
    """The run's SLURM job and array task, when it runs under SLURM (run tags)."""
    names = {"SLURM_JOB_ID": "slurm_job_id", "SLURM_ARRAY_JOB_ID": "slurm_array_job_id",
             "SLURM_ARRAY_TASK_ID": "slurm_array_task_id"}
    return {tag: os.environ[var] for var, tag in names.items() if os.environ.get(var)}
