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
from typing import Tuple

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
    "LITEXP_INDEX", "1", "0 turns the per-experiment search index off (every search reads every file; nothing is written)."
)
HEARTBEAT_INTERVAL = Setting(
    "LITEXP_HEARTBEAT_INTERVAL", "5", "Seconds between two heartbeats of a running run."
)
LOCK_MODE = Setting(
    "LITEXP_LOCK_MODE", "auto", "auto, fcntl or soft: the kind of store lock (auto: soft on network file systems)."
)
LOCK_TIMEOUT = Setting(
    "LITEXP_LOCK_TIMEOUT", "60", "Seconds to wait for a store lock before raising LockTimeoutError."
)
LOCK_STALE_AFTER = Setting(
    "LITEXP_LOCK_STALE_AFTER", "300", "Seconds after which a soft lock file is taken over even if its owner is unknown."
)

#: Every setting, in the order the README lists them.
SETTINGS: Tuple[Setting, ...] = (SYNC_LOGGING, INDEX, HEARTBEAT_INTERVAL, LOCK_MODE, LOCK_TIMEOUT, LOCK_STALE_AFTER)


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
