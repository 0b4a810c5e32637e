"""Exceptions raised by litexp.

Every exception litexp raises on purpose derives from :class:`LitexpError`.
Errors about something that does not exist, or about bad input, are also
:class:`ValueError` so that code written for Qlib (which catches ``ValueError``)
keeps working.
"""

from __future__ import annotations

__all__ = [
    "LitexpError",
    "InvalidInputError",
    "NotFoundError",
    "ExpAlreadyExistError",
    "LoadObjectError",
    "LockTimeoutError",
    "StoreCorruptError",
    "SearchSyntaxError",
    "LoggingFailedError",
    "StorageError",
]


class LitexpError(Exception):
    """Root of every error litexp raises on purpose."""


class InvalidInputError(LitexpError, ValueError):
    """A key, value, name or path given by the caller is not acceptable."""


class NotFoundError(LitexpError, ValueError):
    """An experiment, recorder, artifact or metric does not exist."""


class ExpAlreadyExistError(LitexpError):
    """``create_exp`` was asked for a name that is already taken."""


class LoadObjectError(LitexpError):
    """An artifact could not be loaded (missing, unreadable or not a pickle)."""


class LockTimeoutError(LitexpError):
    """A store lock could not be taken in time."""


class StoreCorruptError(LitexpError):
    """A file of the store that an operation needs (a run's meta.yaml) cannot be parsed.

    Listings and searches skip such files with a warning instead."""


class SearchSyntaxError(LitexpError, ValueError):
    """A filter string or order_by clause is not valid."""


class LoggingFailedError(LitexpError):
    """The background writer failed to write something that was logged."""


class StorageError(LitexpError, OSError):
    """The file system refused a write (disk full, permissions, quota...)."""
