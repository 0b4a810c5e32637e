"""A run's ``meta.yaml``: cached reads for logging checks, and the ONE read-modify-write.

Every change of status, end time, lifecycle stage or run name goes through
:meth:`RunMeta.update`, which re-finds the run and re-reads its meta.yaml under
the store lock before rewriting it (temporary file + ``os.replace``); the folder
where this store last saw the run is tried first, by opening its meta.yaml there,
and a run moved meanwhile is looked up again. Deleting or restoring an experiment
holds the same lock while it rewrites its runs, so a run ended or renamed at that
moment can neither undo the delete nor be lost.
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
        #: meta.yaml path → (inode, size, mtime) and parse of the bytes last read from it, and those bytes
        self._cache: Dict[str, Tuple[Signature, Meta, bytes]] = {}
        self._cache_lock = threading.Lock()

    def load(self, run_id: str, fresh: bool = True, experiment_id: Optional[str] = None) -> Tuple[str, Meta]:
        """The run folder and its parsed meta.yaml.

        ``fresh=False`` (checks before logging) reuses the last parse while the
        file keeps its inode, size and mtime; every rewrite is a new inode.
        """
        if not fresh:
            run_dir = self.layout.remembered_run_dir(run_id)
            if run_dir is not None:
                # the stat of the cache check also finds out whether the run is still there
                try:
                    st = os.stat(meta_path(run_dir))
                except OSError:
                    pass  # moved (its experiment deleted or restored elsewhere): look it up
                else:
                    return run_dir, self._read_unless_cached(run_dir, run_id, st)
        run_dir = self.layout.find_run_dir(run_id, experiment_id)
        return run_dir, self.read(run_dir, run_id, fresh)

    def read(self, run_dir: str, run_id: str, fresh: bool = True) -> Meta:
        if not fresh:
            try:
                st = os.stat(meta_path(run_dir))
            except Exception as exc:
                raise self._unreadable(run_dir, run_id, exc) from exc
            return self._read_unless_cached(run_dir, run_id, st)
        return self._parse(run_dir, run_id)

    def _read_unless_cached(self, run_dir: str, run_id: str, st: os.stat_result) -> Meta:
        """The last parse of meta.yaml while ``st`` (just taken) shows the same file, else a new parse."""
        cached = self._cache.get(meta_path(run_dir))
        if cached is not None and cached[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
            return dict(cached[1])
        return self._parse(run_dir, run_id)

    @staticmethod
    def _unreadable(run_dir: str, run_id: str, exc: BaseException) -> StoreCorruptError:
        return StoreCorruptError(
            f"The meta.yaml of recorder {run_id} ({run_dir}) cannot be read ({exc}). "
            "Restore it from a backup or delete the run folder."
        )

    def _parse(self, run_dir: str, run_id: str, read: Optional[Tuple[bytes, os.stat_result]] = None) -> Meta:
        """Read (unless ``read`` holds the bytes and fstat just read) and parse meta.yaml; cache the parse."""
        path = meta_path(run_dir)
        try:
            data, st = fs.read_with_stat(path) if read is None else read
            cached = self._cache.get(path)
            if cached is not None and cached[2] == data:  # the same bytes as the last parse
                meta = dict(cached[1])
            else:
                meta = fs.parse_yaml(data)
                if not isinstance(meta, dict):
                    raise ValueError("not a mapping")
        except Exception as exc:
            raise self._unreadable(run_dir, run_id, exc) from exc
        with self._cache_lock:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), dict(meta), data)
        return meta

    def update(
        self, run_id: str, change: Callable[[Meta], Optional[bool]], experiment_id: Optional[str] = None
    ) -> Tuple[str, Meta]:
        """Apply ``change`` to the run's meta.yaml under the store lock and rewrite it.

        ``change`` edits the mapping in place; returning False leaves the file as it is.
        Returns the run folder and the meta as written.
        """
        with self.lock:
            run_dir = self.layout.remembered_run_dir(run_id)
            if run_dir is not None:
                # read at once: the open finds out whether the run is still there
                try:
                    read = fs.read_with_stat(meta_path(run_dir))
                except OSError:
                    pass  # moved meanwhile (or unreadable): look it up, read it the usual way
                else:
                    return run_dir, self._rewrite(run_dir, self._parse(run_dir, run_id, read), change)
            run_dir = self.layout.find_run_dir(run_id, experiment_id)
            return run_dir, self.rewrite_locked(run_dir, run_id, change)

    def rewrite_locked(self, run_dir: str, run_id: str, change: Callable[[Meta], Optional[bool]]) -> Meta:
        """:meth:`update` for a caller that already holds the store lock."""
        return self._rewrite(run_dir, self.read(run_dir, run_id), change)

    @staticmethod
    def _rewrite(run_dir: str, meta: Meta, change: Callable[[Meta], Optional[bool]]) -> Meta:
        """``change`` the meta.yaml just read under the store lock and write it back (temporary file + rename)."""
        if change(meta) is not False:
            fs.write_yaml(meta_path(run_dir), meta)
        return meta
