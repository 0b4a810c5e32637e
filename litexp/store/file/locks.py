"""The store lock: one base class, one strategy per kind of file system, picked once per store.

The lock is a *file* at the store root (MLflow's reader crashes on unknown
root-level folders), named from the absolute root so that every process that
opens the same store, from whatever working directory, takes the same lock.

- :class:`FcntlLock` — on local file systems, an ``flock`` lock on ``.litexp.lock``
  (filelock's ``FileLock`` where the platform has no ``fcntl``).
- :class:`SoftLock` — on network file systems (NFS, Lustre, GPFS, BeeGFS, CIFS,
  sshfs, ... read from ``/proc/mounts``), where ``fcntl`` locks are often not
  shared between hosts: ``.litexp.softlock`` created with ``O_EXCL``, holding the
  owner's host, pid, process start and a random token. A soft lock whose owner
  died on this host (pid gone or reused), or that is older than
  ``LITEXP_LOCK_STALE_AFTER`` seconds (locks are held for milliseconds), is broken
  and taken over; the break checks that the file is still the one judged stale.

``LITEXP_LOCK_MODE`` = ``auto`` (default), ``fcntl`` or ``soft`` overrides the
choice; ``LITEXP_LOCK_TIMEOUT`` (seconds, default 60) bounds the wait.
"""

from __future__ import annotations

import abc
import errno
import os
import threading
import time
from typing import Any, List, Optional, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl module on Windows: FcntlLock checks for None

from ... import config, platform
from ...errors import LockTimeoutError
from .layout import LOCK_FILE, SOFT_LOCK_FILE

SOFT_LOCK_FILE_NAME = SOFT_LOCK_FILE

NETWORK_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "lustre",
        "gpfs",
        "beegfs",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "afs",
        "panfs",
        "ocfs2",
        "gfs2",
        "9p",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.ceph-fuse",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.juicefs",
        "wekafs",
        "fhgfs",
        "orangefs",
        "pvfs2",
    }
)


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
    mode = config.lock_mode()
    if mode == "auto":
        return "soft" if is_network_fs(root) else "fcntl"
    return mode


def _timeout_error(path: str, timeout: float) -> LockTimeoutError:
    return LockTimeoutError(
        f"Could not lock the store within {timeout:g} s: {path} is held by another process. If no "
        "litexp process is using this store, delete that file and retry (or raise LITEXP_LOCK_TIMEOUT)."
    )


class BaseLock(abc.ABC):
    """An inter-process lock on a file; a context manager. Not re-entrant."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    @abc.abstractmethod
    def acquire(self) -> None:
        """Take the lock within ``timeout`` seconds, else raise LockTimeoutError."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock back."""

    def __enter__(self) -> "BaseLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class FcntlLock(BaseLock):
    """An ``fcntl`` (``flock``) lock for local file systems; filelock's lock where there is no fcntl.

    The lock file is opened for each hold and closed when it ends (no descriptor
    outlives the lock, so a store's folder can be unmounted or removed), and a
    thread lock makes the threads of one process wait for each other too.
    """

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(path, timeout)
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: Optional[int] = None
        self._pid = os.getpid()
        self._fallback: Any = None
        if fcntl is None:  # pragma: no cover - Windows
            import filelock

            self._fallback = filelock.FileLock(path, timeout=timeout)

    def acquire(self) -> None:
        if self._fallback is not None:  # pragma: no cover - Windows
            import filelock

            try:
                self._fallback.acquire()
            except filelock.Timeout as exc:
                raise _timeout_error(self.path, self.timeout) from exc
            return
        if self._pid != os.getpid():  # a forked child: nothing of the parent's lock is ours
            self._threads, self._depth, self._fd, self._pid = threading.RLock(), 0, None, os.getpid()
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=max(self.timeout, 0.0)):
            raise _timeout_error(self.path, self.timeout)
        try:
            if self._depth == 0:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                except FileNotFoundError:  # the store root is being made: make it, then open
                    os.makedirs(os.path.dirname(self.path), exist_ok=True)
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                delay = 0.001
                try:
                    while True:
                        try:
                            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                            break
                        except BlockingIOError:
                            if time.monotonic() >= deadline:
                                raise _timeout_error(self.path, self.timeout) from None
                            time.sleep(delay)
                            delay = min(delay * 2, 0.05)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        if self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._threads.release()


class SoftLock(BaseLock):
    """An ``O_EXCL`` lock file that excludes across hosts, with stale-lock recovery."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(path, timeout)
        self._token: Optional[str] = None

    def _owner_text(self) -> str:
        pid = os.getpid()
        return f"{platform.host_name()} {pid} {platform.process_start(pid) or '-'} {time.time():.3f} {self._token}\n"

    def _stale_identity(self) -> Optional[Tuple[int, int, int]]:
        """The (inode, size, mtime) of the lock file when it is stale, else None."""
        try:
            st = os.stat(self.path)
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                parts = fh.read().split()
        except FileNotFoundError:
            return None
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if time.time() - st.st_mtime > config.lock_stale_after():
            return identity
        if len(parts) >= 2 and parts[0] == platform.host_name() and parts[1].isdigit():
            started = int(parts[2]) if len(parts) >= 5 and parts[2].isdigit() else None
            if not platform.pid_alive(int(parts[1]), started):
                return identity
        return None

    def _break(self, identity: Tuple[int, int, int]) -> None:
        """Remove the stale lock, unless it was replaced since it was judged (then leave it)."""
        aside = f"{self.path}.{os.urandom(4).hex()}.stale"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            st = os.stat(aside)
            if (st.st_ino, st.st_size, st.st_mtime_ns) != identity:
                # A fresh lock was taken in between: put it back if nobody made another one.
                try:
                    os.link(aside, self.path)
                except FileExistsError:
                    pass
        finally:
            try:
                os.unlink(aside)
            except FileNotFoundError:
                pass

    def _create(self) -> Optional[int]:
        """A descriptor of the new lock file, or None when it exists (or may: retry)."""
        try:
            return os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        except FileNotFoundError:
            # The store root was made a moment ago (maybe by another host) and is not
            # visible here yet: make it, then try again.
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            return None
        except PermissionError:
            # SFTP (sshfs) cannot say "exists": a create that loses the race to another
            # client fails with EPERM. A real permission problem shows as a writable-check
            # failure of the folder, reported at once.
            folder = os.path.dirname(self.path)
            if os.path.isdir(folder) and not os.access(folder, os.W_OK):
                raise
            return None

    def acquire(self) -> None:
        self._token = os.urandom(16).hex()
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            fd = self._create()
            if fd is not None:
                try:
                    os.write(fd, self._owner_text().encode())
                finally:
                    os.close(fd)
                return
            identity = self._stale_identity()
            if identity is not None:
                self._break(identity)
                continue
            if time.monotonic() >= deadline:
                raise _timeout_error(self.path, self.timeout) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

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


class StoreLock(BaseLock):
    """The lock of a store root: a :class:`SoftLock` on network file systems, else a :class:`FcntlLock`."""

    def __init__(self, root: str, timeout: Optional[float] = None) -> None:
        root = os.path.abspath(root)
        self.mode = lock_mode(root)
        soft = self.mode == "soft"
        path = os.path.join(root, SOFT_LOCK_FILE if soft else LOCK_FILE)
        super().__init__(path, config.lock_timeout() if timeout is None else timeout)
        self._strategy: Optional[BaseLock] = None
        self._soft = soft

    def _lock(self) -> BaseLock:
        if self._strategy is None:  # made on first use: opening a store writes nothing
            self._strategy = (SoftLock if self._soft else FcntlLock)(self.path, self.timeout)
        return self._strategy

    def acquire(self) -> None:
        self._lock().acquire()

    def release(self) -> None:
        self._lock().release()
