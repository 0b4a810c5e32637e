"""A run's ``meta.yaml``: cached reads for logging checks, and the ONE read-modify-write.

Every change of status, end time, lifecycle stage or run name goes through
:meth:`RunMeta.update`, which re-finds the run and re-reads its meta.yaml under
the store lock before rewriting it (temporary file + ``os.replace``). Deleting or
restoring an experiment holds the same lock while it rewrites its runs, so a run
ended or renamed at that moment can neither undo the delete nor be lost.
Logging (metric appends, param and tag files) never takes the lock.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, Optional, Tuple

from ...errors import StoreCorruptError
from . import fs
from .layout import Layout, meta_path
from .locks import StoreLock

Meta = Dict[str, Any]
Signature = Tuple[int, int, int]

_CACHE_LIMIT = 10_000


class RunMeta:
    """Reads and rewrites the meta.yaml of the runs of one store."""

    def __init__(self, layout: Layout, lock: StoreLock) -> None:
        self.layout = layout
        self.lock = lock
        self._cache: Dict[str, Tuple[Signature, Meta]] = {}
        self._cache_lock = threading.Lock()

    def load(self, run_id: str, fresh: bool = True, experiment_id: Optional[str] = None) -> Tuple[str, Meta]:
        """The run folder and its parsed meta.yaml.

        ``fresh=False`` (checks before logging) reuses the last parse while the
        file keeps its inode, size and mtime; every rewrite is a new inode.
        """
        run_dir = self.layout.find_run_dir(run_id, experiment_id)
        return run_dir, self.read(run_dir, run_id, fresh)

    def read(self, run_dir: str, run_id: str, fresh: bool = True) -> Meta:
        path = meta_path(run_dir)
        try:
            if not fresh:
                st = os.stat(path)
                cached = self._cache.get(path)
                if cached is not None and cached[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
                    return dict(cached[1])
            data, st = fs.read_with_stat(path)
            meta = fs.parse_yaml(data)
            if not isinstance(meta, dict):
                raise ValueError("not a mapping")
        except Exception as exc:
            raise StoreCorruptError(
                f"The meta.yaml of recorder {run_id} ({run_dir}) cannot be read ({exc}). "
                "Restore it from a backup or delete the run folder."
            ) from exc
        with self._cache_lock:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), dict(meta))
        return meta

    def update(self, run_id: str, change: Callable[[Meta], Optional[bool]], experiment_id: Optional[str] = None) -> Tuple[str, Meta]:
        """Apply ``change`` to the run's meta.yaml under the store lock and rewrite it.

        ``change`` edits the mapping in place; returning False leaves the file as it is.
        Returns the run folder and the meta as written.
        """
        with self.lock:
            run_dir = self.layout.find_run_dir(run_id, experiment_id)
            return run_dir, self.rewrite_locked(run_dir, run_id, change)

    def rewrite_locked(self, run_dir: str, run_id: str, change: Callable[[Meta], Optional[bool]]) -> Meta:
        """:meth:`update` for a caller that already holds the store lock."""
        meta = self.read(run_dir, run_id)
        if change(meta) is not False:
            fs.write_yaml(meta_path(run_dir), meta)
        return meta
