"""Where the run reader gets file contents: straight from disk, or through an index.

The index remembers, per file, what it parsed together with the file's
``(mtime_ns, size, inode)``. An entry is used only while the file still has
exactly those; a metric file that only grew is parsed from where the entry
stopped (after checking the bytes before that point are unchanged). Entries
for files changed in the last ``RACY_SECONDS`` are never kept, since a second
change within the file system's timestamp granularity could leave mtime and
size unchanged. So the index can never serve stale data.

The index of an experiment is persisted as a *file*
(``<experiment>/.litexp-index.json``, which MLflow ignores) so that a new process
starts warm; a missing or damaged index is rebuilt silently.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from . import fs
from . import metric_lines as lines
from .layout import INDEX_FILE, Layout

INDEX_VERSION = 1
__all__ = ["INDEX_FILE", "DiskSource", "IndexedSource"]

RACY_SECONDS = 2.0
TAIL = 32  # bytes checked to tell an append from a rewrite

Latest = Tuple[Optional[lines.Point], int]  # (latest point, skipped lines)


class DiskSource:
    """Reads every file, every time."""

    def listing(self, folder: str) -> List[Tuple[str, bool]]:
        """(name, is_dir) of the entries of ``folder``; empty when missing."""
        try:
            with os.scandir(folder) as it:
                return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def meta(self, path: str) -> Any:
        return fs.load_yaml(path)

    def text(self, path: str) -> str:
        return fs.read_text(path)

    def latest(self, path: str) -> Latest:
        data = fs.read_bytes(path)
        end = data.rfind(b"\n") + 1  # a torn last line is skipped
        best, skipped = lines.scan_latest(data[:end])
        return best, skipped + (1 if end < len(data) else 0)

    def exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def save(self, complete: bool = False) -> None:
        """Nothing to keep."""

    def begin(self) -> None:
        """Nothing to reset."""


def _signature(st: os.stat_result) -> List[int]:
    return [st.st_mtime_ns, st.st_size, st.st_ino]


class IndexedSource(DiskSource):
    """Like :class:`DiskSource`, but reuses what an experiment's index already parsed."""

    def __init__(self, exp_dir: str, persist: bool = True) -> None:
        self.exp_dir = exp_dir
        self.path = Layout.index_file(exp_dir)
        self._prefix = exp_dir.rstrip(os.sep) + os.sep
        self._prefix_len = len(self._prefix)
        self.persist = persist
        self.entries: Dict[str, list] = {}
        self.used: Dict[str, list] = {}
        self.dirty = False
        self.now_ns = time.time_ns()
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(fs.read_bytes(self.path))
            if data.get("version") == INDEX_VERSION and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]
        except (OSError, ValueError, AttributeError):
            self.entries = {}

    def _key(self, path: str) -> str:
        # paths handed in are always built by joining onto exp_dir
        return path[self._prefix_len:] if path.startswith(self._prefix) else os.path.relpath(path, self.exp_dir)

    def _settled(self, st: os.stat_result) -> bool:
        return self.now_ns - st.st_mtime_ns > RACY_SECONDS * 1e9

    def _lookup(self, kind: str, path: str) -> Tuple[Optional[list], Optional[os.stat_result]]:
        """The entry for ``path`` if the file is unchanged (and its stat); (None, None)
        without a stat when there is no entry, so the reader stats the open file."""
        key = kind + ":" + self._key(path)
        if kind != "d" and key not in self.entries:
            return None, None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if self.entries.pop(key, None) is not None:
                self.dirty = True
            raise
        entry = self.entries.get(key)
        if entry is not None:
            sig = entry[0]
            if sig[0] == st.st_mtime_ns and sig[1] == st.st_size and sig[2] == st.st_ino:
                self.used[key] = entry
                return entry, st
        return None, st

    def _remember(self, kind: str, path: str, st: os.stat_result, value: Any) -> None:
        key = kind + ":" + self._key(path)
        if self._settled(st):
            entry = [_signature(st), value]
            self.used[key] = entry
            if self.entries.get(key) != entry:
                self.dirty = True

    def listing(self, folder: str) -> List[Tuple[str, bool]]:
        try:
            entry, st = self._lookup("d", folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        if entry is not None:
            return entry[1]  # type: ignore[no-any-return]
        names = super().listing(folder)
        self._remember("d", folder, st, [list(x) for x in names])  # type: ignore[arg-type]
        return names

    def meta(self, path: str) -> Any:
        entry, _ = self._lookup("m", path)
        if entry is not None:
            return dict(entry[1])
        data, st = fs.read_with_stat(path)
        value = fs.parse_yaml(data)
        if isinstance(value, dict):
            self._remember("m", path, st, value)
        return value

    def text(self, path: str) -> str:
        entry, _ = self._lookup("t", path)
        if entry is not None:
            return entry[1]  # type: ignore[no-any-return]
        data, st = fs.read_with_stat(path)
        value = data.decode("utf-8")
        self._remember("t", path, st, value)
        return value

    def latest(self, path: str) -> Latest:
        key = "l:" + self._key(path)
        entry = self.entries.get(key)
        best: Optional[lines.Point] = None
        skipped = 0
        start = 0
        before = b""
        if entry is None:
            data, st = fs.read_with_stat(path)
        else:
            st = os.stat(path)
            sig = entry[0]
            if sig[0] == st.st_mtime_ns and sig[1] == st.st_size and sig[2] == st.st_ino:
                self.used[key] = entry
                point, skipped = entry[1][0], entry[1][1]
                return (tuple(point) if point is not None else None), skipped  # type: ignore[return-value]
            data = b""
            if sig[2] == st.st_ino and st.st_size > entry[1][2]:
                # the file grew: parse only the new bytes if the old end is unchanged
                offset, tail = entry[1][2], bytes.fromhex(entry[1][3])
                with open(path, "rb") as fh:
                    fh.seek(max(0, offset - len(tail)))
                    chunk = fh.read()
                if chunk[: len(tail)] == tail:
                    start, before, data = offset, tail, chunk[len(tail):]
                    best = tuple(entry[1][0]) if entry[1][0] is not None else None  # type: ignore[assignment]
                    skipped = entry[1][1]
            if not start:
                data = fs.read_bytes(path)
        # only whole lines count; a torn last line is left for the next read
        end = data.rfind(b"\n") + 1
        # the old best comes first: of equal points MLflow keeps the first in file order
        best, bad = lines.scan_latest(data[:end], best)
        skipped += bad + (1 if end < len(data) else 0)
        consumed = start + end
        tail = (before + data[:end])[-TAIL:].hex()
        if end == len(data):
            self._remember("l", path, st, [list(best) if best is not None else None, skipped, consumed, tail])
        return best, skipped

    def save(self, complete: bool = False) -> None:
        """Persist the index. After a ``complete`` read (every file of the experiment
        visited) only the entries used are kept, so those of vanished files go."""
        entries = self.used if complete else {**self.entries, **self.used}
        changed = self.dirty or len(entries) != len(self.entries)
        self.entries, self.used, self.dirty = entries, {}, False
        if not changed or not self.persist:
            return
        data = json.dumps({"version": INDEX_VERSION, "entries": entries}, separators=(",", ":"))
        try:
            fs.replace_file(self.path, data.encode("utf-8"))
        except OSError:
            pass  # a read-only store still searches, just without a saved index

    def begin(self) -> None:
        """Start a new read: files changed since the last one are re-read."""
        self.now_ns = time.time_ns()
        self.used = {}

