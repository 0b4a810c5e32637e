"""The on-disk spool: what could not reach an MLflow server yet, one file per run.

``<LITEXP_SPOOL_DIR>/<server>/<run_id>.jsonl`` holds one JSON entry per line
(a log batch, or the run's final status); ``<run_id>.sent`` holds how many
bytes of it the server has; ``<run_id>.rejected.jsonl`` keeps entries the
server refused for good, with its answer. Delivery goes through the entries in order and
moves the mark after each one; a fully delivered spool is removed. A batch
sent twice (the answer to the first try was lost) changes nothing on an
MLflow SQL store: identical metric rows are dropped there, params may be
logged again with the same value, and tags are overwritten in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from filelock import FileLock

from ... import config
from ...errors import StorageError, UndeliveredError

SERVER_FILE = "server.json"


def server_folder_name(tracking_uri: str) -> str:
    """A folder name for a server URL (``http://127.0.0.1:5000`` → ``http_127.0.0.1_5000``)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", tracking_uri).strip("_")


class Spool:
    """The spooled entries of one server's runs."""

    def __init__(self, tracking_uri: str, root: Optional[str] = None) -> None:
        self.tracking_uri = tracking_uri
        self.folder = os.path.join(root or config.spool_dir(), server_folder_name(tracking_uri))
        self._reset_locks()

    def _reset_locks(self) -> None:
        self._pid = os.getpid()
        self._locks: Dict[str, threading.RLock] = {}
        self._file_locks: Dict[str, FileLock] = {}
        self._guard = threading.Lock()

    def path(self, run_id: str) -> str:
        return os.path.join(self.folder, run_id + ".jsonl")

    def _sent_path(self, run_id: str) -> str:
        return os.path.join(self.folder, run_id + ".sent")

    def has(self, run_id: str) -> bool:
        return os.path.exists(self.path(run_id))

    def run_ids(self) -> List[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(n[: -len(".jsonl")] for n in names if n.endswith(".jsonl") and not n.endswith(".rejected.jsonl"))

    def guard(self, run_id: str) -> "threading.RLock":
        """The lock of a run's sends within this process."""
        if self._pid != os.getpid():  # locks held by other threads at fork time are never released here
            self._reset_locks()
        with self._guard:
            return self._locks.setdefault(run_id, threading.RLock())

    @contextlib.contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Held while a run's spool is written or delivered (threads and processes; reentrant)."""
        with self.guard(run_id):
            self._make_folder()
            with self._guard:
                file_lock = self._file_locks.get(run_id)
                if file_lock is None:
                    file_lock = self._file_locks[run_id] = FileLock(os.path.join(self.folder, run_id + ".lock"))
            with file_lock:
                yield

    def _make_folder(self) -> None:
        if os.path.isdir(self.folder):
            return
        try:
            os.makedirs(self.folder, exist_ok=True)
            with open(os.path.join(self.folder, SERVER_FILE), "w", encoding="utf-8") as fh:
                json.dump({"tracking_uri": self.tracking_uri}, fh)
        except OSError as exc:
            raise StorageError(f"Cannot make the spool folder {self.folder}: {exc}. Set LITEXP_SPOOL_DIR.") from None

    # writing ----------------------------------------------------------------------
    def append(self, run_id: str, entry: Dict[str, Any]) -> None:
        """Add one entry, on disk (fsync) before returning; UndeliveredError when the spool is full."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        path = self.path(run_id)
        with self.lock(run_id):
            try:
                size = os.path.getsize(path)
            except FileNotFoundError:
                size = 0
            limit = config.spool_max_bytes()
            if size + len(line) > limit:
                raise UndeliveredError(
                    f"The spool of run {run_id} ({path}) is full ({size} bytes; LITEXP_SPOOL_MAX_MB allows "
                    f"{limit // (1024 * 1024)} MB) while {self.tracking_uri} cannot be reached; this call's data was "
                    "not kept. Bring the server back, then send the spool with `litexp spool --send`.",
                    path,
                    self.points(run_id),
                )
            try:
                if not size:  # a new spool: an offset left by an earlier one means nothing
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self._sent_path(run_id))
                with open(path, "ab") as fh:
                    if size and not _ends_with_newline(path):
                        fh.write(b"\n")  # a line torn by a killed process stays on its own
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise StorageError(f"Cannot write the spool file {path}: {exc}.") from None

    def mark_sent(self, run_id: str, offset: int) -> None:
        """The server has every entry before byte ``offset``."""
        path = self.path(run_id)
        sent = self._sent_path(run_id)
        if offset >= os.path.getsize(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sent)
            os.unlink(path)
            return
        tmp = sent + ".tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(str(offset))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, sent)

    def reject(self, run_id: str, entry: Dict[str, Any], why: str) -> None:
        """Keep an entry the server refused (it leaves the spool) in ``<run>.rejected.jsonl``."""
        line = json.dumps({"entry": entry, "why": why}, separators=(",", ":")) + "\n"
        with open(os.path.join(self.folder, run_id + ".rejected.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(line)

    # reading ----------------------------------------------------------------------
    def _sent_offset(self, run_id: str) -> int:
        try:
            with open(self._sent_path(run_id), encoding="ascii") as fh:
                return int(fh.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def pending(self, run_id: str) -> Iterator[Tuple[int, Optional[Dict[str, Any]]]]:
        """``(end offset, entry)`` of every undelivered entry, in order; a torn line gives ``None``."""
        try:
            fh = open(self.path(run_id), "rb")
        except FileNotFoundError:
            return
        with fh:
            fh.seek(self._sent_offset(run_id))
            for line in fh:
                entry: Optional[Dict[str, Any]]
                try:
                    entry = json.loads(line) if line.endswith(b"\n") else None
                except ValueError:
                    entry = None
                yield fh.tell(), entry

    def points(self, run_id: str) -> int:
        """Metric points waiting for the server."""
        total = 0
        for _, entry in self.pending(run_id):
            if entry and "batch" in entry:
                total += len(entry["batch"].get("metrics") or ())
        return total


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def spooled_servers(root: Optional[str] = None) -> List[str]:
    """Tracking URIs that have a spool folder."""
    folder = root or config.spool_dir()
    uris = []
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    for name in names:
        try:
            with open(os.path.join(folder, name, SERVER_FILE), encoding="utf-8") as fh:
                uris.append(str(json.load(fh)["tracking_uri"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return uris
