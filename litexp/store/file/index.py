"""The search index: a cache of what the reader parsed, one SQLite row per run.

Each row holds, for one run folder, the ``(mtime_ns, size, inode)`` signature of
every file and folder the reader looked at together with what it parsed from
it (:mod:`.index_entry`). The reader uses a value only while the file still has
exactly that signature, and a folder listing only while the folder does;
anything changed in the last ``RACY_SECONDS`` is never remembered (a second
change within the file system's timestamp granularity could leave mtime and
size unchanged). So the index can never serve stale data, and deleting it loses
nothing: MLflow ignores it and the next search rebuilds it.

Where it lives:

- ``LITEXP_INDEX_DIR`` set: ``<that folder>/<hash of the experiment path>.sqlite``;
- an experiment folder on a local disk: ``<experiment>/.litexp-index.sqlite``;
- on a network file system (SQLite's locking is not to be trusted there), or when
  the experiment folder cannot be written: the same name under
  ``$XDG_CACHE_HOME/litexp/index`` (``~/.cache/litexp/index``), so each host keeps
  its own.

A damaged or foreign file is replaced; an index that cannot be opened or written
at all only makes searches read every file. Writes are SQLite transactions
(atomic, safe with concurrent readers and writers); a busy index is skipped,
never waited on for long.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Iterable, List, Optional

from ... import config
from .layout import INDEX_FILE, OLD_INDEX_FILE
from .locks import is_network_fs

__all__ = ["RunIndex", "open_index", "index_path", "index_damage", "unlink_index", "INDEX_FILE", "RACY_SECONDS"]

RACY_SECONDS = 2.0
FORMAT = 3  # bump when the row format changes: older rows are then dropped
BATCH = 256  # rows written per transaction
BUSY_MS = 2000

_SCHEMA = "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)"


def _cache_dir() -> str:
    configured = config.index_dir()
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "litexp", "index")


def _cache_path(exp_dir: str) -> str:
    digest = hashlib.sha256(os.path.realpath(exp_dir).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(_cache_dir(), digest + ".sqlite")


def index_path(exp_dir: str, network: Optional[bool] = None) -> str:
    """Where the index of an experiment folder is kept first (see the module docs)."""
    if config.index_dir():
        return _cache_path(exp_dir)
    if network is None:
        network = is_network_fs(exp_dir)
    return _cache_path(exp_dir) if network else os.path.join(exp_dir, INDEX_FILE)


def unlink_index(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except OSError:
            pass


class RunIndex:
    """One experiment's index: rows read on demand, writes batched into transactions."""

    def __init__(self, connection: Any, path: str) -> None:
        self._db = connection
        self.path = path
        self._pending: Dict[str, bytes] = {}
        self._dropped: List[str] = []
        self.writable = True

    def get(self, run_id: str) -> Optional[bytes]:
        """The row of a run, or None (missing, or the index became unreadable)."""
        if self._db is None:
            return None
        pending = self._pending.get(run_id)
        if pending is not None:
            return pending
        import sqlite3

        try:
            row = self._db.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        except sqlite3.Error:
            self._broken()
            return None
        return row[0] if row is not None else None

    def get_many(self, run_ids: List[str]) -> Dict[str, bytes]:
        """The rows of several runs (those the index has)."""
        if self._db is None or not run_ids:
            return {}
        import sqlite3

        marks = ",".join("?" * len(run_ids))
        try:
            found = dict(self._db.execute(f"SELECT run_id, data FROM runs WHERE run_id IN ({marks})", run_ids))
        except sqlite3.Error:
            self._broken()
            return {}
        for run_id in run_ids:
            if run_id in self._pending:
                found[run_id] = self._pending[run_id]
        return found

    def run_ids(self) -> List[str]:
        if self._db is None:
            return []
        import sqlite3

        try:
            return [r[0] for r in self._db.execute("SELECT run_id FROM runs")]
        except sqlite3.Error:
            self._broken()
            return []

    def put(self, run_id: str, data: bytes) -> None:
        """Remember a run's row (written with the next batch)."""
        if self._db is None or not self.writable:
            return
        self._pending[run_id] = data
        if len(self._pending) >= BATCH:
            self.flush()

    def drop(self, run_ids: Iterable[str]) -> None:
        """Forget rows (runs that are gone)."""
        if self._db is None or not self.writable:
            return
        self._dropped.extend(run_ids)
        if len(self._dropped) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write what is pending in one transaction; a busy or failing index is skipped."""
        if self._db is None or not (self._pending or self._dropped):
            return
        import sqlite3

        pending, dropped = self._pending, self._dropped
        self._pending, self._dropped = {}, []
        try:
            with self._db:
                if pending:
                    self._db.executemany("INSERT OR REPLACE INTO runs (run_id, data) VALUES (?, ?)", pending.items())
                if dropped:
                    self._db.executemany("DELETE FROM runs WHERE run_id = ?", ((r,) for r in dropped))
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "read-only" in str(exc):
                self.writable = False
            # busy (another writer holds it for long) or full disk: this batch stays unwritten
        except sqlite3.Error:
            self._broken()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            try:
                self._db.close()
            except Exception:
                pass
            self._db = None

    def _broken(self) -> None:
        """The file turned out damaged while in use: forget it; the next search replaces it."""
        try:
            self._db.close()
        except Exception:
            pass
        self._db = None
        unlink_index(self.path)


def _connect(path: str, create: bool) -> Any:
    """An open, checked index at ``path``; raises sqlite3.Error / OSError when it cannot be used."""
    import sqlite3

    if create:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    elif not os.path.exists(path):
        raise FileNotFoundError(path)
    uri = "file:" + _quote(path) + ("" if create else "?mode=ro")
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        db.isolation_level = ""  # type: ignore[assignment]  # `with db:` then opens and commits one transaction
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if create:
            if version != FORMAT:
                if version == 0:  # a new file: big pages hold many ~1 KB rows with little waste
                    db.execute("PRAGMA page_size = 65536")
                mode = db.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                with db:
                    db.execute("DROP TABLE IF EXISTS runs")
                    db.execute(_SCHEMA)
                    db.execute(f"PRAGMA user_version = {FORMAT}")
            db.execute("PRAGMA synchronous=NORMAL")
        elif version != FORMAT:
            raise sqlite3.DatabaseError("index of another format")
        db.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
    except BaseException:
        db.close()
        raise
    return db


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


def _open_at(path: str) -> Optional[RunIndex]:
    """The index at ``path``: opened, created, or replaced when damaged; None if impossible here."""
    try:
        import sqlite3
    except ImportError:  # a Python built without SQLite: searches just read every file
        return None
    for attempt in range(2):
        try:
            return RunIndex(_connect(path, create=True), path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _cannot_write(exc):
                break
            if attempt == 0:  # damaged, truncated or not an index: start over
                unlink_index(path)
        except OSError:
            break
    try:  # an index we may read but not write (a read-only store)
        index = RunIndex(_connect(path, create=False), path)
        index.writable = False
        return index
    except (sqlite3.Error, OSError):
        return None


def _cannot_write(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("readonly", "read-only", "unable to open", "disk I/O error", "locked"))


def open_index(exp_dir: str, network: Optional[bool] = None) -> Optional[RunIndex]:
    """The index of an experiment folder, or None when the index is off or cannot be kept anywhere."""
    if not config.index_enabled():
        return None
    first = index_path(exp_dir, network)
    index = _open_at(first)
    if index is not None and index.writable and first.startswith(exp_dir):
        try:  # the JSON index of litexp 0.1 is never read again
            os.unlink(os.path.join(exp_dir, OLD_INDEX_FILE))
        except OSError:
            pass
    if index is not None and index.writable:
        return index
    cached = _cache_path(exp_dir)
    if cached != first:
        other = _open_at(cached)
        if other is not None and (other.writable or index is None):
            if index is not None:
                index.close()
            return other
    return index


def index_damage(path: str) -> Optional[str]:
    """Why SQLite cannot read the index at ``path``; None when it can, or cannot tell (missing,
    busy, in a folder it may not open)."""
    if not os.path.isfile(path):
        return None
    try:
        import sqlite3
        from urllib.parse import quote
    except ImportError:  # pragma: no cover - a Python without SQLite keeps no index
        return None
    try:
        db = sqlite3.connect("file:" + quote(os.path.abspath(path)) + "?mode=ro", uri=True, timeout=2)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError as exc:  # locked, busy, cannot open: no verdict
        text = str(exc)
        return text if "malformed" in text or "not a database" in text else None
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])
