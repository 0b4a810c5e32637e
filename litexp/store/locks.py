"""Inter-process locks of a store.

The lock is a *file* at the store root (MLflow's reader crashes on unknown
root-level folders), named from the absolute root so that every process that
opens the same store, from whatever working directory, takes the same lock.
"""

from __future__ import annotations

import os

import filelock

from ..errors import LockTimeoutError

LOCK_FILE_NAME = ".litexp.lock"
DEFAULT_TIMEOUT = float(os.environ.get("LITEXP_LOCK_TIMEOUT", "60"))


class StoreLock:
    """A context manager around a filelock on ``<root>/.litexp.lock``."""

    def __init__(self, root: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = os.path.join(os.path.abspath(root), LOCK_FILE_NAME)
        self.timeout = timeout
        self._lock = filelock.FileLock(self.path, timeout=timeout)

    def __enter__(self) -> "StoreLock":
        try:
            self._lock.acquire()
        except filelock.Timeout as exc:
            raise LockTimeoutError(
                f"Could not lock the store within {self.timeout:g} s: {self.path} is held by another "
                "process. If no litexp process is running on this store, delete that file and retry "
                "(or raise LITEXP_LOCK_TIMEOUT)."
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
