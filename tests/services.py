"""Real services for the tests marked ``services``: started from scripts/services/ in a fresh
folder with free ports, stopped at the end of the session.

Where a tool is missing the test is skipped with the reason; with ``IMBLLM_REQUIRE_SERVICES=1``
(``.ci/run`` sets it) the skip becomes a failure, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "services"
REQUIRED = os.environ.get("IMBLLM_REQUIRE_SERVICES") == "1"


def unavailable(reason: str):
    """Skip (or, when CI requires the services, fail) with ``reason``."""
    if REQUIRED:
        pytest.fail(f"IMBLLM_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_dir() -> Path:
    """A fresh folder the services' own users can enter (PostgreSQL runs as ``postgres``)."""
    path = Path(tempfile.mkdtemp(prefix="imbllm-services-"))
    path.chmod(0o755)
    return path


def script(name: str, *args, env: dict | None = None, timeout: float = 180) -> str:
    """Run ``scripts/services/<name>``; its last output line (a URL or an export), if any."""
    proc = subprocess.run(
        [str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable, **(env or {})},
    )
    if proc.returncode == 3:  # the scripts' "tool missing" exit
        unavailable(proc.stderr.strip())
    assert proc.returncode == 0, f"{name} {args}: {proc.stderr[-2000:]}"
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def have_postgres() -> str | None:
    """Why PostgreSQL cannot be started here, or None."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not debian and not shutil.which("pg_ctl"):
        return "PostgreSQL server not installed (apt-get install postgresql)"
    if not shutil.which("psql"):
        return "psql not found (apt-get install postgresql-client)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg not installed (pip install -e ".[scale]")'
    return None


def have_slurm() -> str | None:
    """Why a one-node SLURM cluster cannot be started here, or None."""
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch") if not shutil.which(b)]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "a local slurmd must run as root"
    return None
