"""Every setting litexp reads from the environment: its name, default and meaning, in one place.

Settings are read when they are used, not at import: the logging mode when a
recorder is made, the heartbeat interval when it starts, the lock mode and
timeout when a process first opens a store. A bad value is an
``InvalidInputError`` naming the variable. The README's settings table is
:data:`SETTINGS`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Tuple

from .errors import InvalidInputError

__all__ = [
    "Setting",
    "SETTINGS",
    "sync_logging",
    "index_enabled",
    "heartbeat_interval",
    "lock_mode",
    "lock_timeout",
    "lock_stale_after",
    "http_settings",
    "HttpSettings",
    "spool_dir",
    "spool_max_bytes",
]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One environment variable litexp reads."""

    name: str
    default: str
    doc: str


SYNC_LOGGING = Setting(
    "LITEXP_SYNC_LOGGING", "0", "1 writes every log call at the call instead of in the background writer thread."
)
INDEX = Setting(
    "LITEXP_INDEX",
    "1",
    "0 turns the per-experiment search index off (every search reads every file; nothing is written).",
)
INDEX_DIR = Setting(
    "LITEXP_INDEX_DIR",
    "",
    "Folder for every experiment's search index (default: the experiment folder on a local disk, "
    "`$XDG_CACHE_HOME/litexp/index` on a network file system or a read-only store).",
)
HEARTBEAT_INTERVAL = Setting("LITEXP_HEARTBEAT_INTERVAL", "5", "Seconds between two heartbeats of a running run.")
LOCK_MODE = Setting(
    "LITEXP_LOCK_MODE", "auto", "auto, fcntl or soft: the kind of store lock (auto: soft on network file systems)."
)
LOCK_TIMEOUT = Setting("LITEXP_LOCK_TIMEOUT", "60", "Seconds to wait for a store lock before raising LockTimeoutError.")
LOCK_STALE_AFTER = Setting(
    "LITEXP_LOCK_STALE_AFTER", "300", "Seconds after which a soft lock file is taken over even if its owner is unknown."
)

SPOOL_DIR = Setting(
    "LITEXP_SPOOL_DIR",
    "~/.cache/litexp/spool",
    "Folder where points for an unreachable MLflow server wait (one file per run).",
)
SPOOL_MAX_MB = Setting(
    "LITEXP_SPOOL_MAX_MB", "1024", "Most megabytes one run may spool before logging calls fail with UndeliveredError."
)
# MLflow's own client settings, read under MLflow's names with MLflow's defaults.
TRACKING_TOKEN = Setting("MLFLOW_TRACKING_TOKEN", "", "Bearer token sent to an MLflow server.")
TRACKING_USERNAME = Setting("MLFLOW_TRACKING_USERNAME", "", "User name for an MLflow server's basic auth.")
TRACKING_PASSWORD = Setting("MLFLOW_TRACKING_PASSWORD", "", "Password for an MLflow server's basic auth.")
TRACKING_INSECURE_TLS = Setting(
    "MLFLOW_TRACKING_INSECURE_TLS",
    "false",
    "true skips TLS certificate checks of an https server (not for production).",
)
TRACKING_SERVER_CERT_PATH = Setting(
    "MLFLOW_TRACKING_SERVER_CERT_PATH", "", "CA bundle (PEM) to check an https server's certificate with."
)
TRACKING_CLIENT_CERT_PATH = Setting(
    "MLFLOW_TRACKING_CLIENT_CERT_PATH", "", "Client certificate (PEM with its key) sent to an https server."
)
HTTP_MAX_RETRIES = Setting(
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7", "Retries of a request after a connection error, 408, 429 or 5xx."
)
HTTP_BACKOFF_FACTOR = Setting(
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "2", "Backoff between retries: 0, then factor × 2^n seconds (at most 120)."
)
HTTP_BACKOFF_JITTER = Setting(
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "1.0", "Up to this many random seconds added to each backoff."
)
HTTP_TIMEOUT = Setting(
    "MLFLOW_HTTP_REQUEST_TIMEOUT", "120", "Seconds one HTTP request may take (connect and each read)."
)

#: Every setting, in the order the README lists them.
SETTINGS: Tuple[Setting, ...] = (
    SYNC_LOGGING,
    INDEX,
    INDEX_DIR,
    HEARTBEAT_INTERVAL,
    LOCK_MODE,
    LOCK_TIMEOUT,
    LOCK_STALE_AFTER,
    SPOOL_DIR,
    SPOOL_MAX_MB,
    TRACKING_TOKEN,
    TRACKING_USERNAME,
    TRACKING_PASSWORD,
    TRACKING_INSECURE_TLS,
    TRACKING_SERVER_CERT_PATH,
    TRACKING_CLIENT_CERT_PATH,
    HTTP_MAX_RETRIES,
    HTTP_BACKOFF_FACTOR,
    HTTP_BACKOFF_JITTER,
    HTTP_TIMEOUT,
)


def _raw(setting: Setting) -> str:
    return os.environ.get(setting.name, "").strip() or setting.default


def _flag(setting: Setting) -> bool:
    value = _raw(setting).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInputError(f"{setting.name} must be 1 or 0 (true/false), not {value!r}.")


def _seconds(setting: Setting) -> float:
    value = _raw(setting)
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidInputError(f"{setting.name} must be a number of seconds, not {value!r}.") from None
    if not seconds >= 0:
        raise InvalidInputError(f"{setting.name} must be zero or more seconds, not {value!r}.")
    return seconds


def sync_logging() -> bool:
    """True when log calls write at the call (``LITEXP_SYNC_LOGGING=1``)."""
    return _flag(SYNC_LOGGING)


def index_enabled() -> bool:
    """False when the search index is turned off (``LITEXP_INDEX=0``)."""
    return _flag(INDEX)


def index_dir() -> str:
    """The folder set by ``LITEXP_INDEX_DIR`` (``~`` expanded), or "" for the default places."""
    raw = _raw(INDEX_DIR).strip()
    return os.path.expanduser(raw) if raw else ""


def heartbeat_interval() -> float:
    return _seconds(HEARTBEAT_INTERVAL)


def lock_mode() -> str:
    """``auto``, ``fcntl`` or ``soft``."""
    mode = _raw(LOCK_MODE).lower()
    if mode not in ("auto", "fcntl", "soft"):
        raise InvalidInputError(f"{LOCK_MODE.name} must be auto, fcntl or soft, not {mode!r}.")
    return mode


def lock_timeout() -> float:
    return _seconds(LOCK_TIMEOUT)


def lock_stale_after() -> float:
    return _seconds(LOCK_STALE_AFTER)


def _number(setting: Setting, kind: Callable[[Any], float] = float) -> float:
    value = _raw(setting)
    try:
        number = kind(value)
    except ValueError:
        raise InvalidInputError(
            f"{setting.name} must be a {'whole ' if kind is int else ''}number, not {value!r}."
        ) from None
    if not number >= 0:
        raise InvalidInputError(f"{setting.name} must be zero or more, not {value!r}.")
    return number


@dataclass(frozen=True)
class HttpSettings:
    """How litexp talks to an MLflow server (MLflow's variable names and defaults)."""

    token: str
    username: str
    password: str
    insecure_tls: bool
    server_cert_path: str
    client_cert_path: str
    max_retries: int
    backoff_factor: float
    backoff_jitter: float
    timeout: float


def http_settings() -> HttpSettings:
    """The HTTP client settings, read now from the environment."""
    return HttpSettings(
        token=os.environ.get(TRACKING_TOKEN.name, ""),
        username=os.environ.get(TRACKING_USERNAME.name, ""),
        password=os.environ.get(TRACKING_PASSWORD.name, ""),
        insecure_tls=_flag(TRACKING_INSECURE_TLS),
        server_cert_path=_raw(TRACKING_SERVER_CERT_PATH),
        client_cert_path=_raw(TRACKING_CLIENT_CERT_PATH),
        max_retries=int(_number(HTTP_MAX_RETRIES, int)),
        backoff_factor=_number(HTTP_BACKOFF_FACTOR),
        backoff_jitter=_number(HTTP_BACKOFF_JITTER),
        timeout=_number(HTTP_TIMEOUT) or float(HTTP_TIMEOUT.default),
    )


def spool_dir() -> str:
    """The spool folder (``LITEXP_SPOOL_DIR``), ``~`` expanded."""
    return os.path.abspath(os.path.expanduser(_raw(SPOOL_DIR)))


def spool_max_bytes() -> int:
    return int(_number(SPOOL_MAX_MB) * 1024 * 1024)
