"""Inter-process locks of a store.

The lock is a *file* at the store root (MLflow's reader crashes on unknown
root-level folders), named from the absolute root so that every process that
opens the same store, from whatever working directory, takes the same lock.

On local file systems it is an ``fcntl`` lock (filelock's ``FileLock``). On
network file systems (NFS, Lustre, GPFS, BeeGFS, CIFS, ...), where ``fcntl``
locks are often not shared between hosts, it is a *soft* lock: a file created
with ``O_EXCL`` holding the owner's host, pid and time, which excludes across
hosts; a soft lock whose owner died on this host, or that is older than
``LITEXP_LOCK_STALE_AFTER`` seconds (default 300; locks are held for
milliseconds), is removed and taken over.

``LITEXP_LOCK_MODE`` = ``auto`` (default), ``fcntl`` or ``soft`` overrides the
choice; ``LITEXP_LOCK_TIMEOUT`` (seconds, default 60) bounds the wait.
"""

from __future__ import annotations

import errno
import os
import time
from typing import List, Optional, Tuple

from ..errors import InvalidInputError, LockTimeoutError

LOCK_FILE_NAME = ".litexp.lock"
SOFT_LOCK_FILE_NAME = ".litexp.softlock"

NETWORK_FS_TYPES = frozenset(
    {
        "nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
        "afs", "panfs", "ocfs2", "gfs2", "9p", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph-fuse",
        "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "wekafs", "fhgfs", "orangefs", "pvfs2",
    }
)


def _timeout() -> float:
    return float(os.environ.get("LITEXP_LOCK_TIMEOUT", "60"))


def _stale_after() -> float:
    return float(os.environ.get("LITEXP_LOCK_STALE_AFTER", "300"))


def _unescape_mount(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def read_mounts(mounts_file: str = "/proc/mounts") -> List[Tuple[str, str]]:
    """(mount point, file system type) pairs; empty where /proc/mounts does not exist."""
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as fh:
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return [(_unescape_mount(r[1]), r[2]) for r in rows if len(r) >= 3]


def filesystem_type(path: str, mounts: Optional[List[Tuple[str, str]]] = None) -> Optional[str]:
    """The type of the file system holding ``path`` (longest matching mount point)."""
    path = os.path.realpath(path)
    best: Optional[Tuple[str, str]] = None
    for point, fstype in mounts if mounts is not None else read_mounts():
        if path == point or path.startswith(point.rstrip("/") + "/") or point == "/":
            if best is None or len(point) > len(best[0]):
                best = (point, fstype)
    return best[1] if best else None


def is_network_fs(path: str, mounts: Optional[List[Tuple[str, str]]] = None) -> bool:
    fstype = filesystem_type(path, mounts)
    return fstype is not None and (fstype in NETWORK_FS_TYPES or fstype.split(".")[0] in NETWORK_FS_TYPES)


def lock_mode(root: str) -> str:
    """``fcntl`` or ``soft`` for a store root, from LITEXP_LOCK_MODE or the file system type."""
    mode = os.environ.get("LITEXP_LOCK_MODE", "auto").strip().lower() or "auto"
    if mode not in ("auto", "fcntl", "soft"):
        raise InvalidInputError(f"LITEXP_LOCK_MODE must be auto, fcntl or soft, not {mode!r}.")
    if mode == "auto":
        return "soft" if is_network_fs(root) else "fcntl"
    return mode


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SoftLock:
    """An ``O_EXCL`` lock file that excludes across hosts, with stale-lock recovery."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._token: Optional[str] = None

    def _owner_text(self) -> str:
        return f"{os.uname().nodename} {os.getpid()} {time.time():.3f} {self._token}\n"

    def _is_stale(self) -> bool:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                parts = fh.read().split()
            age = time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return False
        if age > _stale_after():
            return True
        if len(parts) >= 2 and parts[0] == os.uname().nodename and parts[1].isdigit():
            return not _pid_alive(int(parts[1]))
        return False

    def _break(self) -> None:
        aside = f"{self.path}.{os.urandom(4).hex()}.stale"
        try:
            os.rename(self.path, aside)
            os.unlink(aside)
        except FileNotFoundError:
            pass

    def acquire(self) -> None:
        self._token = os.urandom(16).hex()
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._is_stale():
                    self._break()
                    continue
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"Could not lock the store within {self.timeout:g} s: {self.path} is held by "
                        "another process. If no litexp process is using this store, delete that file "
                        "and retry (or raise LITEXP_LOCK_TIMEOUT)."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
                continue
            try:
                os.write(fd, self._owner_text().encode())
            finally:
                os.close(fd)
            return

    def release(self) -> None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                mine = self._token is not None and self._token in fh.read()
            if mine:
                os.unlink(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
        self._token = None


class StoreLock:
    """A context manager that excludes other processes (and hosts, on network file systems)."""

    def __init__(self, root: str, timeout: Optional[float] = None) -> None:
        root = os.path.abspath(root)
        self.timeout = _timeout() if timeout is None else timeout
        self.mode = lock_mode(root)
        if self.mode == "soft":
            self.path = os.path.join(root, SOFT_LOCK_FILE_NAME)
            self._soft: Optional[SoftLock] = SoftLock(self.path, self.timeout)
        else:
            self.path = os.path.join(root, LOCK_FILE_NAME)
            self._soft = None
            import filelock

            self._lock = filelock.FileLock(self.path, timeout=self.timeout)
            self._timeout_error = filelock.Timeout

    def __enter__(self) -> "StoreLock":
        if self._soft is not None:
            self._soft.acquire()
            return self
        try:
            self._lock.acquire()
        except self._timeout_error as exc:
            raise LockTimeoutError(
                f"Could not lock the store within {self.timeout:g} s: {self.path} is held by another "
                "process. If no litexp process is using this store, delete that file and retry "
                "(or raise LITEXP_LOCK_TIMEOUT)."
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._soft is not None:
            self._soft.release()
        else:
            self._lock.release()
