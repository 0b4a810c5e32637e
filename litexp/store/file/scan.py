"""Reading run folders for searches, through the index when there is one.

:class:`RunScanner` reads one experiment folder run by run, yielding each
readable run as soon as it is read, so a caller that keeps only some runs holds
only those. For every run it checks the index row (:mod:`.index_entry`) against
the files: one ``stat`` per file whose value is remembered, one per folder whose
listing is; only what changed is read and parsed (a metric file that only grew
is parsed from where the row stopped). With a :class:`~litexp.records.Selection`
only the named keys are looked at. Rows of runs that changed are written back in
batches.

Whatever cannot be parsed (a damaged meta.yaml, a stray file name, an empty or
torn metric file) is skipped with one warning; the rest of the run is read.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

from ...errors import LitexpError
from ...records import RUN_NAME_TAG, RunRecord, Selection
from ..validation import validate_key
from . import fs
from . import metric_lines as lines
from .index import RACY_SECONDS, RunIndex
from .index_entry import NO_SIG, Entry, Sig, decode, encode
from .layout import METRICS, PARAMS, RESERVED_EXPERIMENT_FOLDERS, TAGS
from .run_reader import Warn, meta_fields, read_datasets, record_from_fields

__all__ = ["RunScanner", "read_run"]

TAIL = 32  # bytes whose checksum tells an append from a rewrite
READ_BATCH = 64  # runs whose index rows are fetched in one query
_KINDS = ((METRICS, "Metric"), (PARAMS, "Param"), (TAGS, "Tag"))
_MISSING = object()


def _sig(st: os.stat_result) -> Sig:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(path: str) -> Tuple[bytes, os.stat_result]:
    """A small file's content and its ``fstat`` (taken before reading)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        data = os.read(fd, st.st_size + 1)
        if len(data) > st.st_size:  # it grew meanwhile: read the rest
            chunks = [data]
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data, st


def _open_stat(path: str) -> os.stat_result:
    """``fstat`` of a freshly opened file: on NFS an open revalidates cached attributes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


class RunScanner:
    """Reads the runs of experiment folders; one scanner per search."""

    def __init__(self, warn: Warn, index: Optional[RunIndex] = None, network: bool = False) -> None:
        self.warn = warn
        self.index = index
        self.stat: Callable[[str], os.stat_result] = _open_stat if network else os.stat
        self.settled_before = time.time_ns() - int(RACY_SECONDS * 1e9)
        self._names: Dict[str, str] = {}  # one string object per key / short value in a search

    # ------------------------------------------------------------ folders
    def runs(
        self,
        exp_dir: str,
        experiment_id: str,
        stages: Sequence[str],
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
    ) -> Iterator[RunRecord]:
        """The readable runs of one experiment folder in the stages, in folder order."""
        wanted = set(run_ids) if run_ids is not None else None
        sel = selection or Selection()
        complete = wanted is None and sel.metrics is None and sel.params is None and sel.tags is None
        index = self.index
        present: Set[str] = set()
        try:
            with os.scandir(exp_dir) as it:
                batch: List[str] = []
                for item in it:
                    name = item.name
                    if wanted is not None and name not in wanted:
                        continue
                    if name in RESERVED_EXPERIMENT_FOLDERS or not item.is_dir(follow_symlinks=False):
                        continue
                    batch.append(name)
                    if len(batch) == READ_BATCH:
                        yield from self._batch(exp_dir, batch, experiment_id, stages, sel)
                        if complete:
                            present.update(batch)
                        batch = []
                yield from self._batch(exp_dir, batch, experiment_id, stages, sel)
                if complete:
                    present.update(batch)
        except (FileNotFoundError, NotADirectoryError):
            return
        if index is not None:
            if complete:
                index.drop([r for r in index.run_ids() if r not in present])
            index.flush()

    def _batch(
        self, exp_dir: str, names: List[str], experiment_id: str, stages: Sequence[str], selection: Selection
    ) -> Iterator[RunRecord]:
        rows = self.index.get_many(names) if self.index is not None else {}
        for name in names:
            record = self.read(exp_dir + os.sep + name, name, experiment_id, stages, selection, rows.get(name, b""))
            if record is not None:
                yield record

    # ------------------------------------------------------------ one run
    def read(
        self,
        run_dir: str,
        run_id: str,
        experiment_id: Optional[str] = None,
        stages: Optional[Sequence[str]] = None,
        selection: Optional[Selection] = None,
        row: Optional[bytes] = None,
    ) -> Optional[RunRecord]:
        """One run folder (None when it is not a readable run of that experiment in those stages).

        ``row``: the run's index row when the caller fetched it (b"" for none)."""
        index = self.index
        if row is None and index is not None:
            row = index.get(run_id)
        cached = decode(row, run_id) if row else None
        fresh = Entry()
        fields, changed = self._meta(run_dir, cached, fresh)
        changed = changed or (cached is None and index is not None)
        record = record_from_fields(run_id, fields) if fields is not None else None
        if (
            record is None
            or (experiment_id is not None and record.experiment_id != experiment_id)
            or (stages is not None and record.lifecycle_stage not in stages)
        ):
            if changed and index is not None and fresh.meta is not None:
                _keep_rest(cached, fresh, (METRICS, PARAMS, TAGS))
                index.put(run_id, encode(fresh, run_id))
            return None
        sel = selection or Selection()
        base = run_dir + os.sep
        partial = []
        outs: Tuple[Dict[str, Any], ...] = (record.metrics, record.params, record.tags)
        for (folder, kind), keys, out in zip(_KINDS, (sel.metrics, sel.params, sel.tags), outs):
            if keys is not None:
                partial.append(folder)
            if self._data(base, folder, kind, keys, cached, fresh, out):
                changed = True
        if sel.datasets:
            record.datasets = read_datasets(run_dir, self.warn)
        if not record.run_name:
            name = record.tags.get(RUN_NAME_TAG)
            if name is None and sel.tags is not None:
                extra: Dict[str, str] = {}
                if self._data(base, TAGS, "Tag", frozenset({RUN_NAME_TAG}), cached, fresh, extra):
                    changed = True
                name = extra.get(RUN_NAME_TAG)
            record.run_name = name or ""
        if changed and index is not None and (fresh.meta is not None or cached is not None):
            _keep_rest(cached, fresh, partial)
            index.put(run_id, encode(fresh, run_id))
        return record

    def _settled(self, st: os.stat_result) -> bool:
        return st.st_mtime_ns < self.settled_before

    def _meta(self, run_dir: str, cached: Optional[Entry], fresh: Entry) -> Tuple[Optional[Tuple[Any, ...]], bool]:
        path = run_dir + os.sep + "meta.yaml"
        try:
            if cached is not None and cached.meta is not None:
                st = self.stat(path)
                if (st.st_mtime_ns, st.st_size, st.st_ino) == cached.meta_sig:
                    fresh.meta_sig, fresh.meta = cached.meta_sig, cached.meta
                    return cached.meta, False
            data, st = _read(path)
            meta = fs.parse_yaml(data)
        except FileNotFoundError:
            if os.path.basename(run_dir).startswith("."):
                self.warn(run_dir, "litexp: skipping %s: not a run folder", run_dir)
            return None, cached is not None
        except Exception as exc:
            self.warn(path, "litexp: skipping run folder %s: unreadable meta.yaml (%s)", run_dir, exc)
            return None, cached is not None
        try:
            fields = meta_fields(meta, run_dir)
        except Exception as exc:
            self.warn(path, "litexp: skipping run folder %s: bad meta.yaml (%s)", run_dir, exc)
            return None, cached is not None
        if self._settled(st):
            fresh.meta_sig, fresh.meta = _sig(st), fields
        return fields, True

    # ------------------------------------------------------------ data files
    def _listing(self, base: str, folder: str, cached: Optional[Entry], fresh: Entry) -> Optional[List[str]]:
        """Names (relative to the folder, ``a/b``) of the files below a data folder; None when the
        index's listing still holds."""
        if cached is not None and folder in cached.dirs:
            prefix = folder + "/"
            dirs = [(name, sig) for name, sig in cached.dirs.items() if name == folder or name.startswith(prefix)]
            if all(sig != NO_SIG for _, sig in dirs):
                stat = self.stat
                try:
                    same = True
                    for name, sig in dirs:
                        st = stat(base + name)
                        if (st.st_mtime_ns, st.st_size, st.st_ino) != sig:
                            same = False
                            break
                except OSError:
                    same = False
                if same:
                    for name, sig in dirs:
                        fresh.dirs[name] = sig
                    return None
        return self._walk(base, folder, "", fresh)

    def _walk(self, base: str, folder: str, start: str, fresh: Entry) -> List[str]:
        """Names of the files below ``folder/start`` (a prefix ending with ``/``, or "")."""
        found: List[str] = []
        stack = [start]
        while stack:
            current = stack.pop()
            rel = folder + "/" + current[:-1] if current else folder
            path = base + rel
            try:
                st = os.stat(path)
                if st.st_nlink == 2:  # no subfolder (where link counts count them)
                    found.extend(current + name for name in os.listdir(path))
                    fresh.dirs[rel] = _sig(st) if self._settled(st) else NO_SIG
                    continue
                with os.scandir(path) as it:
                    entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                self.warn(path, "litexp: skipping folder %s (%s)", path, exc)
                continue
            fresh.dirs[rel] = _sig(st) if self._settled(st) else NO_SIG
            for name, is_dir in entries:
                if is_dir:
                    stack.append(current + name + "/")
                else:
                    found.append(current + name)
        return found

    def _data(
        self,
        base: str,
        folder: str,
        kind: str,
        keys: Optional[FrozenSet[str]],
        cached: Optional[Entry],
        fresh: Entry,
        out: Dict[str, Any],
    ) -> bool:
        """Read one kind of a run's files into ``out``; True when the row must be rewritten."""
        old = cached.old_files(folder) if cached is not None and keys is None else None
        new = fresh.files(folder)
        names = self._names
        metric = kind == "Metric"
        stat = self.stat
        prefix = base + folder + os.sep
        changed = False
        todo: List[Tuple[str, Any]] = []  # (name, what the row remembers of it or None)
        if keys is None:
            listed = self._listing(base, folder, cached, fresh)
            if listed is None and old is not None:
                # the listing holds: check each remembered file with one stat
                mtimes, sizes, inos, values = old.mtimes, old.sizes, old.inos, old.values
                # ``new`` is being built, so its columns are lists (Files types them as read-only sequences)
                add_name, add_mtime, add_size = new.names.append, new.mtimes.append, new.sizes.append  # type: ignore[attr-defined]  # lists, see above
                add_ino, add_value = new.inos.append, new.values.append  # type: ignore[attr-defined]  # lists, see above
                for i, name in enumerate(old.names):
                    try:
                        st = stat(prefix + name)
                    except FileNotFoundError:
                        changed = True
                        continue
                    except OSError:
                        todo.append((name, (old.sig(i), values[i])))
                        continue
                    value = values[i]
                    if (
                        st.st_mtime_ns != mtimes[i]
                        or st.st_size != sizes[i]
                        or st.st_ino != inos[i]
                        or (metric and (value is None or value[3]))
                    ):
                        todo.append((name, (old.sig(i), value)))
                        continue
                    add_name(name)
                    add_mtime(mtimes[i])
                    add_size(sizes[i])
                    add_ino(inos[i])
                    add_value(value)
                    out[names.setdefault(name, name)] = (
                        value[1] if metric else (names.setdefault(value, value) if len(value) <= 64 else value)
                    )
            else:
                changed = True
                for name in listed or ():
                    i = old.find(name) if old is not None else -1
                    todo.append((name, (old.sig(i), old.values[i]) if old is not None and i >= 0 else None))
        else:
            for key in keys:
                try:
                    validate_key(key, kind)
                except LitexpError:
                    continue  # no such file can be in a store
                todo.append((key, cached.lookup(folder, key) if cached is not None else None))
        for name, prior in todo:
            path = prefix + name if os.sep == "/" else os.path.join(prefix, *name.split("/"))
            if prior is None:
                try:
                    validate_key(name, kind)
                except LitexpError as exc:
                    self.warn(path, "litexp: skipping %s file %s (%s)", kind.lower(), path, exc)
                    _unsettle(fresh, folder, name)
                    continue
            try:
                value, entry = self._metric(path, prior) if metric else self._text(path, prior)
            except FileNotFoundError:
                if prior is not None:
                    changed = True
                continue
            except IsADirectoryError:  # a folder a link count did not show: walk it
                if keys is None:
                    todo.extend((n, None) for n in self._walk(base, folder, name + "/", fresh))
                changed = True
                continue
            except (OSError, UnicodeDecodeError) as exc:
                self.warn(path, "litexp: skipping %s file %s (%s)", kind.lower(), path, exc)
                _unsettle(fresh, folder, name)
                changed = True
                continue
            if entry is not prior:
                changed = True
            if entry is not None:
                new.add(name, entry[0], entry[1])
            else:  # not remembered (changed just now): the folder's listing must not be trusted either
                _unsettle(fresh, folder, name)
            if value is _MISSING:
                continue
            if not metric and len(value) <= 64:
                value = names.setdefault(value, value)
            out[names.setdefault(name, name)] = value
        return changed

    def _text(self, path: str, old: Optional[Tuple[Sig, Any]]) -> Tuple[Any, Optional[Tuple[Sig, Any]]]:
        if old is not None:
            if _sig(self.stat(path)) == old[0]:
                return old[1], old
        data, st = _read(path)
        value = data.decode("utf-8")
        return value, ((_sig(st), value) if self._settled(st) else None)

    def _metric(self, path: str, old: Optional[Tuple[Sig, Any]]) -> Tuple[Any, Optional[Tuple[Sig, Any]]]:
        best: Optional[lines.Point] = None
        skipped = 0
        start = 0
        data = before = b""
        if old is not None:
            st = self.stat(path)
            sig = _sig(st)
            if sig == old[0]:
                return self._latest(path, old[1]), old
            prior = old[1]
            offset = old[0][1]
            if prior is not None and sig[2] == old[0][2] and st.st_size > offset:
                # the file grew: parse only the new bytes if the old end is unchanged
                back = min(TAIL, offset)
                fd = os.open(path, os.O_RDONLY)
                try:
                    st = os.fstat(fd)
                    chunk = os.pread(fd, max(0, st.st_size - offset + back), offset - back)
                finally:
                    os.close(fd)
                if len(chunk) >= back and zlib.crc32(chunk[:back]) == prior[4]:
                    start, before, data = offset, chunk[:back], chunk[back:]
                    best, skipped = (prior[0], prior[1], prior[2]), prior[3]
        if not start:
            data, st = _read(path)
            size = len(data)
            if size and data.find(b"\n") == size - 1:  # one line, the common case: no scan needed
                parts = data.split(b" ")
                if len(parts) == 3:
                    try:
                        ts, val, step = int(parts[0]), float(parts[1]), int(parts[2])
                    except ValueError:
                        pass
                    else:
                        settled = self._settled(st) and size == st.st_size
                        crc = zlib.crc32(data[-TAIL:])
                        return val, ((_sig(st), (ts, val, step, 0, crc)) if settled else None)
        # only whole lines count; a torn last line is left for the next read
        end = data.rfind(b"\n") + 1
        # the old best comes first: of equal points MLflow keeps the first in file order
        best, bad = lines.scan_latest(data[:end], best)
        skipped += bad
        torn = 1 if end < len(data) else 0
        entry: Optional[Tuple[Sig, Any]] = None
        if not torn and self._settled(st) and start + end == st.st_size:
            if best is None:
                entry = (_sig(st), None)
            else:
                tail = data[end - TAIL : end] if end >= TAIL else (before + data[:end])[-TAIL:]
                entry = (_sig(st), (best[0], best[1], best[2], skipped, zlib.crc32(tail)))
        value = (best[0], best[1], best[2], skipped + torn, 0) if best is not None else None
        return self._latest(path, value, skipped + torn), entry

    def _latest(self, path: str, value: Any, skipped: int = 0) -> Any:
        """The latest value of a metric row, warning about skipped lines; _MISSING when none."""
        if value is not None:
            skipped = value[3]
        if skipped:
            self.warn(path, "litexp: skipped %d unreadable line(s) in metric file %s", skipped, path)
        if value is None:
            self.warn(path + "#empty", "litexp: skipping metric file %s: no readable line", path)
            return _MISSING
        return value[1]


def _keep_rest(cached: Optional[Entry], fresh: Entry, folders: Sequence[str]) -> None:
    """Carry over the remembered files of the folders a read did not list."""
    if cached is None:
        return
    for folder in folders:
        old = cached.old_files(folder)
        if old is None:
            continue
        new = fresh.files(folder)
        for i, name in enumerate(old.names):
            if new.find(name) < 0:
                new.add(name, old.sig(i), old.values[i])
    prefixes = tuple(folders)
    for name, sig in cached.dirs.items():
        if name.split("/", 1)[0] in prefixes:
            fresh.dirs.setdefault(name, sig)


def _unsettle(fresh: Entry, folder: str, name: str) -> None:
    """A file that could not be read: its folder's listing is not remembered, so it is tried again."""
    parent = (folder + "/" + name).rsplit("/", 1)[0]
    fresh.dirs[parent] = NO_SIG


def read_run(run_dir: str, warn: Warn, selection: Optional[Selection] = None) -> Optional[RunRecord]:
    """One run read straight from its files (no index)."""
    return RunScanner(warn).read(run_dir, os.path.basename(run_dir), selection=selection)
