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
    "ServerError",
    "ServerUnreachableError",
    "AuthError",
    "UndeliveredError",
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


class ServerError(LitexpError):
    """An MLflow tracking server answered a request with an error litexp has no better class for."""


class ServerUnreachableError(ServerError, ConnectionError):
    """An MLflow tracking server could not be reached (after the configured retries)."""


class AuthError(ServerError, PermissionError):
    """An MLflow tracking server refused the credentials (HTTP 401 or 403)."""


class UndeliveredError(LoggingFailedError):
    """Logged data could not reach the tracking server; it waits in the local spool.

    ``spool_path`` is the spool file, ``points`` the metric points it holds. Send
    them later with ``litexp spool --send`` (or :func:`litexp.send_spool`).
    """

    def __init__(self, message: str, spool_path: str = "", points: int = 0) -> None:
        super().__init__(message)
        self.spool_path = spool_path
        self.points = points
