"""Checks of a run's configuration, all in one place, before anything runs or is recorded.

Each check raises :class:`ConfigError`, whose message is one sentence naming the config key,
the value received and the fix. The entry point (``imbllm-bench``) prints that sentence and
exits with code 2; nothing is written to the tracking store.
"""

from __future__ import annotations

import math
import socket
from numbers import Integral, Real
from pathlib import Path
from urllib.parse import urlparse

#: Exit code of ``imbllm-bench`` for a configuration error (argparse's convention).
CONFIG_ERROR_EXIT = 2


class InputError(ValueError):
    """A run that cannot start as configured; the message is one sentence saying why and what to do."""


class ConfigError(InputError):
    """A configuration value that cannot run: ``key``, ``value`` and how to fix it."""

    def __init__(self, key: str, value, fix: str):
        self.key, self.value, self.fix = key, value, fix
        super().__init__(f"{key}={value!r} is not valid: {fix}.")


def _is_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def check_seed(value, key: str = "seed") -> int:
    if not _is_int(value) or not 0 <= value < 2**32:
        raise ConfigError(key, value, "the seed must be an integer from 0 to 2**32 - 1, e.g. seed=0")
    return int(value)


def check_fraction(value, key: str, *, closed_right: bool, hint: str) -> float:
    """A number in (0, 1] (``closed_right``) or (0, 1)."""
    ok = _is_number(value) and 0 < value and (value <= 1 if closed_right else value < 1)
    if not ok:
        interval = "(0, 1]" if closed_right else "(0, 1)"
        raise ConfigError(key, value, f"it must be a number in {interval} ({hint})")
    return float(value)


def check_positive_int(value, key: str, hint: str) -> int:
    if not _is_int(value) or value < 1:
        raise ConfigError(key, value, f"it must be a positive integer ({hint})")
    return int(value)


def check_positive_number(value, key: str, hint: str) -> float:
    if not _is_number(value) or not 0 < value < float("inf"):
        raise ConfigError(key, value, f"it must be a positive number ({hint})")
    return float(value)


def check_choice(value, key: str, choices) -> str:
    if value not in choices:
        raise ConfigError(key, value, f"use one of {', '.join(map(str, choices))}")
    return value


def check_bool(value, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "use true or false")
    return value


def check_run_numbers(cfg: dict) -> None:
    """The top-level numbers and switches of a run (``conf/config.yaml``)."""
    check_seed(cfg.get("seed"))
    check_fraction(cfg.get("ratio"), "ratio", closed_right=True,
                   hint="the share of training minority rows kept; the paper uses 0.2")
    check_fraction(cfg.get("test_size"), "test_size", closed_right=False,
                   hint="the share of rows held out for testing; the paper uses 0.2")
    for key in ("force", "continue_on_error"):
        check_bool(cfg.get(key), key)
    name = cfg.get("experiment_name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("experiment_name", name, "name the MLflow experiment, e.g. experiment_name=adhoc")
    synth = cfg.get("synthetic_metrics") or {}
    check_bool(synth.get("enabled"), "synthetic_metrics.enabled")
    check_positive_int(synth.get("max_rows"), "synthetic_metrics.max_rows",
                       "rows of the seeded subsample the synthetic metrics use")


def check_writable_path(path: str | Path, key: str, *, folder: bool) -> None:
    """``path`` (a folder, or a file when ``folder`` is false) can be created or written.

    No ancestor may be a file and the nearest existing folder must be writable. Nothing is
    created: a bad run leaves the disk as it found it.
    """
    import os

    p = Path(path).expanduser().absolute()
    if p.exists() and p.is_dir() != folder:
        what = "a file" if folder else "a folder"
        raise ConfigError(key, str(path), f"{p} is {what}; point {key} at {'a folder' if folder else 'a file'}")
    for parent in [p, *p.parents] if folder else list(p.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(key, str(path), f"{parent} is a file, not a folder; choose a path under a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(key, str(path), f"the folder {parent} is not writable; choose another location")
            return


#: Default ports of the tracking back ends that are reached over the network.
_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "mysql": 3306}


def check_tracking_uri(uri, key: str = "tracking.uri", timeout: float = 3.0) -> None:
    """A SQLite file whose folder can be made, a reachable server, or a local folder."""
    if not isinstance(uri, str) or not uri:
        raise ConfigError(key, uri, "give an MLflow tracking URI such as sqlite:///results/mlruns.db")
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]  # postgresql+psycopg2 is PostgreSQL
    if scheme == "sqlite":
        path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(key, uri, "a SQLite URI names a file: sqlite:///<path>/mlruns.db")
        check_writable_path(path, key, folder=False)
    elif scheme in _PORTS:
        port = parsed.port or _PORTS[scheme]
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
        except OSError as exc:
            raise ConfigError(
                key, uri, f"no tracking server answers at {parsed.hostname}:{port} ({exc.strerror or exc}); "
                "start it or use a sqlite:/// URI") from None
    elif scheme in ("", "file"):
        check_writable_path(parsed.path or uri, key, folder=True)
    else:
        raise ConfigError(key, uri, "use sqlite:///<file>, http(s)://<server> or a database URI")


def check_claims(tracking: dict) -> None:
    """A positive claim timeout, and a database the workers can claim run keys in (a tracking
    server needs ``tracking.claims_uri``)."""
    timeout = tracking.get("claim_timeout", 300)
    if not _is_number(timeout) or timeout <= 0:
        raise ConfigError("tracking.claim_timeout", timeout,
                          "give the seconds without a heartbeat after which a claim is retaken, e.g. 300")
    from imbllm.scale.store import claims_url

    try:
        claims_url(tracking["uri"], tracking.get("claims_uri"))
    except ValueError as exc:
        raise ConfigError("tracking.claims_uri", tracking.get("claims_uri"), str(exc).rstrip(".")) from None
