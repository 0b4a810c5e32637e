"""A real network file system for tests: one folder mounted twice with sshfs over loopback.

:func:`sshfs_mounts` starts a private ``sshd`` on 127.0.0.1 (throwaway keys, its own
config, a free port) and mounts one exported folder twice with ``sshfs``. Each mount
is a separate sshfs process with its own SFTP connection, its own sshfs attribute /
name / directory cache and its own kernel FUSE superblock, so the two mounts behave
like two NFS clients (two hosts) sharing one server folder: what one writes the
other sees only when its caches expire or are revalidated. ``/proc/mounts`` shows
them as ``fuse.sshfs``, which litexp treats as a network file system (O_EXCL soft
lock ``.litexp.softlock`` instead of ``fcntl``).

Caching (:data:`SSHFS_CACHE_OPTIONS`), chosen to match a Linux NFS client's defaults:

* ``dir_cache=yes,dcache_timeout=20`` (sshfs's defaults, spelled out so a change of
  default cannot change the tests): each mount keeps file attributes (stat), names
  and directory listings for up to 20 s. NFS keeps file attributes 3-60 s
  (acregmin/acregmax) and directory attributes, hence listings, 30-60 s
  (acdirmin/acdirmax): a listing made on one host misses entries another host made
  since, a stat reports an old size or mtime, as on NFS.
* ``attr_timeout=0`` (the kernel's FUSE attribute cache; libfuse's default is 1 s):
  every open asks sshfs, and sshfs's open fetches the file's attributes afresh, so a
  file opened after another host closed it reads whole. That is NFS's close-to-open
  consistency. With the 1 s default, a file replaced through the other mount reads
  *truncated to its old size* for up to a second after open, which NFS never does.
* not ``kernel_cache`` / ``auto_cache``: the page cache is dropped at each open (NFS
  revalidates data at open too); not ``cache=no`` or ``direct_io``: that would make
  the mounts coherent, hiding exactly what the tests are for.
* negative lookups are not cached (``negative_timeout=0``, the default), and a name
  that is not in a cached listing is still looked up on the server, like NFS with
  ``lookupcache=positive``.

Prerequisites (Debian packages ``sshfs`` and ``openssh-server``; ``sshfs`` brings
``fuse3`` and ``openssh-client``): :func:`missing_prerequisites` lists what is absent,
:func:`require_prerequisites` skips a test locally and fails it under CI (``CI`` set).
The privilege separation folder sshd insists on (``/run/sshd`` on Debian) is made
when missing, as Debian's ssh service does at boot.

Cleanup always runs (exceptions, KeyboardInterrupt, SIGTERM while mounted, interpreter
exit): both mounts are unmounted (``fusermount3 -u``, then lazily) and sshd and the sshfs
processes this helper started are stopped, each step with a bounded wait. Leftovers of a
run that was killed outright (SIGKILL) are removed by the next run.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Iterator, List, NamedTuple, Optional, Sequence

APT_PACKAGES = ("sshfs", "openssh-server")
SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd", "/usr/bin/sshd")
SSHFS_CACHE_OPTIONS = ("dir_cache=yes", "dcache_timeout=20", "attr_timeout=0")
# How long a mount may show another mount's changes late: sshfs's cache timeout.
CACHE_TIMEOUT = 20.0
TEMP_PREFIX = "litexp-netfs-"
SSH_USER_OPTIONS = (
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "BatchMode=yes",
    "IdentitiesOnly=yes",
    "PasswordAuthentication=no",
    "LogLevel=ERROR",
    "ConnectTimeout=10",
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
)


class NetFSError(RuntimeError):
    """The network file system could not be set up (the message says what failed)."""


class Mounts(NamedTuple):
    export: str  # the folder on the "server" (read it directly: the truth)
    a: str  # mount point of client (host) A
    b: str  # mount point of client (host) B


# ----------------------------------------------------------------- prerequisites
def find_sshd() -> Optional[str]:
    for path in SSHD_CANDIDATES:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("sshd")


def find_fusermount() -> Optional[str]:
    return shutil.which("fusermount3") or shutil.which("fusermount")


def missing_prerequisites() -> List[str]:
    """What this machine lacks to mount sshfs over loopback (empty when nothing)."""
    missing = []
    if find_sshd() is None:
        missing.append("sshd not found (Debian package openssh-server)")
    for tool, package in (("sshfs", "sshfs"), ("ssh", "openssh-client"), ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            missing.append(f"{tool} not on PATH (Debian package {package})")
    if find_fusermount() is None:
        missing.append("fusermount3/fusermount not on PATH (Debian package fuse3)")
    if not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse does not exist (no FUSE device in this machine or container)")
    elif not os.access("/dev/fuse", os.R_OK | os.W_OK):
        missing.append("/dev/fuse is not readable and writable by this user")
    try:
        with open("/proc/filesystems", encoding="utf-8") as fh:
            if not any(line.split()[-1:] == ["fuse"] for line in fh):
                missing.append("the kernel has no fuse file system (try: modprobe fuse)")
    except OSError:
        pass
    return missing


def prerequisites_message(missing: Sequence[str]) -> str:
    return (
        "sshfs network-file-system tests need: "
        + "; ".join(missing)
        + f". Install with: apt-get install -y {' '.join(APT_PACKAGES)}"
    )


def require_prerequisites() -> None:
    """Skip the calling test when sshfs/sshd/FUSE are missing; under CI (``CI`` set), fail it."""
    import pytest

    missing = missing_prerequisites()
    if not missing:
        return
    message = prerequisites_message(missing)
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# ------------------------------------------------------------------ processes
def _run(cmd: Sequence[str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        return subprocess.CompletedProcess(list(cmd), 124, out + f"\n(timed out after {timeout:g} s)", None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> List[int]:
    """Pids of every living descendant of ``pid`` (from /proc)."""
    children: dict = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat, encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop_pids(pids: Sequence[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds, the given pids (ours only)."""
    alive = [p for p in pids if _pid_alive(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _pid_alive(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _stop_popen(proc: Optional[subprocess.Popen], grace: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)


# --------------------------------------------------------------------- mounts
def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted(point: str) -> Optional[str]:
    """The file system type mounted at ``point`` (None when nothing is)."""
    point = os.path.abspath(point)
    found = None
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) >= 3 and _unescape(fields[1]) == point:
                    found = fields[2]  # the last one mounted there wins
    except OSError:
        return None
    return found


def unmount(point: str, timeout: float = 15.0) -> Optional[str]:
    """Unmount a FUSE mount: ``fusermount -u``, then lazily; None when done, else what failed."""
    if mounted(point) is None:
        return None
    fusermount = find_fusermount()
    attempts = []
    if fusermount:
        attempts += [[fusermount, "-u", point], [fusermount, "-u", "-z", point]]
    attempts += [["umount", point], ["umount", "-l", point]]
    errors = []
    for cmd in attempts:
        result = _run(cmd, timeout=timeout)
        if mounted(point) is None:
            return None
        errors.append(f"{' '.join(cmd)} -> {result.returncode}: {result.stdout.strip()}")
    return "; ".join(errors)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ssh(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    """Until the port answers with an SSH banner (True), or sshd died / time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.settimeout(2.0)
                if sock.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


SSHD_CONFIG = """\
# litexp test sshd: loopback only, public key only, nothing but SFTP needed.
Port {port}
ListenAddress 127.0.0.1
AddressFamily inet
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
MaxStartups 50:30:100
MaxSessions 50
ClientAliveInterval 10
LogLevel INFO
Subsystem sftp internal-sftp
"""


class SshfsPair:
    """A private sshd and two sshfs mounts of one folder; use :func:`sshfs_mounts`."""

    def __init__(self, base_dir: Optional[str] = None, timeout: float = 30.0, keep: Optional[bool] = None) -> None:
        self.timeout = timeout
        self.keep = bool(os.environ.get("LITEXP_NETFS_KEEP")) if keep is None else keep
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=base_dir))
        self.export = os.path.join(self.dir, "export")
        self.mount_a = os.path.join(self.dir, "mnt_a")
        self.mount_b = os.path.join(self.dir, "mnt_b")
        self.key = os.path.join(self.dir, "id_ed25519")
        self.sshd_log = os.path.join(self.dir, "sshd.log")
        self.port: Optional[int] = None
        self.sshd: Optional[subprocess.Popen] = None
        self.sshfs: List[subprocess.Popen] = []
        self._closed = False
        self._close_lock = threading.Lock()
        self._old_sigterm = None

    # setup ----------------------------------------------------------------
    def start(self) -> Mounts:
        atexit.register(self.close)
        self._catch_sigterm()
        for folder in (self.export, self.mount_a, self.mount_b):
            os.mkdir(folder)
        with open(os.path.join(self.dir, "owner.pid"), "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        self._make_keys()
        self._start_sshd()
        for point, name in ((self.mount_a, "a"), (self.mount_b, "b")):
            self._mount(point, name)
        return Mounts(self.export, self.mount_a, self.mount_b)

    def _make_keys(self) -> None:
        for path, comment in (
            (self.key, "litexp-test-client"),
            (os.path.join(self.dir, "ssh_host_ed25519_key"), "litexp-test-host"),
        ):
            result = _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
            if result.returncode != 0:
                raise NetFSError(f"ssh-keygen failed ({result.returncode}): {result.stdout}")
        shutil.copyfile(self.key + ".pub", os.path.join(self.dir, "authorized_keys"))
        os.chmod(os.path.join(self.dir, "authorized_keys"), 0o600)

    def _write_sshd_config(self, port: int) -> str:
        path = os.path.join(self.dir, "sshd_config")
        user = pwd.getpwuid(os.getuid()).pw_name
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(SSHD_CONFIG.format(port=port, dir=self.dir, user=user))
        return path

    def _check_sshd_config(self, sshd: str, config: str) -> None:
        """``sshd -t``; makes the privilege separation folder it asks for (/run/sshd)."""
        for _ in range(2):
            result = _run([sshd, "-t", "-f", config])
            if result.returncode == 0:
                return
            match = re.search(r"Missing privilege separation directory: (\S+)", result.stdout)
            if not match:
                break
            try:
                os.makedirs(match.group(1), mode=0o755, exist_ok=True)
            except OSError as exc:
                raise NetFSError(
                    f"sshd needs its privilege separation folder {match.group(1)} and it cannot be made "
                    f"({exc}); create it as root: mkdir -p -m 755 {match.group(1)}"
                ) from exc
        raise NetFSError(f"sshd -t -f {config} failed ({result.returncode}): {result.stdout.strip()}")

    def _start_sshd(self) -> None:
        sshd = find_sshd()
        if sshd is None:
            raise NetFSError(prerequisites_message(["sshd not found"]))
        tail = ""
        for _ in range(5):  # another process may take the free port before sshd binds it
            port = _free_port()
            config = self._write_sshd_config(port)
            self._check_sshd_config(sshd, config)
            log = open(self.sshd_log, "ab")
            try:
                self.sshd = subprocess.Popen(
                    [sshd, "-D", "-e", "-f", config],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            finally:
                log.close()
            if _wait_for_ssh(port, self.sshd, self.timeout):
                self.port = port
                return
            tail = self._log_tail(self.sshd_log)
            _stop_popen(self.sshd)
            if "Bind to port" not in tail and "Cannot bind" not in tail:
                break
        raise NetFSError(f"sshd did not start listening on 127.0.0.1; its log:\n{tail}")

    def _mount(self, point: str, name: str) -> None:
        assert self.port is not None
        options = ",".join((f"IdentityFile={self.key}",) + SSH_USER_OPTIONS + ("reconnect",) + SSHFS_CACHE_OPTIONS)
        user = pwd.getpwuid(os.getuid()).pw_name
        log_path = os.path.join(self.dir, f"sshfs_{name}.log")
        cmd = ["sshfs", "-f", "-p", str(self.port), "-o", options, f"{user}@127.0.0.1:{self.export}", point]
        log = open(log_path, "ab")
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        self.sshfs.append(proc)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            fstype = mounted(point)
            if fstype is not None:
                if fstype != "fuse.sshfs":
                    raise NetFSError(f"{point} is mounted as {fstype!r}, not fuse.sshfs")
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise NetFSError(
            f"sshfs did not mount {point} (exit {proc.poll()}): {' '.join(cmd)}\n"
            f"sshfs said:\n{self._log_tail(log_path)}\nsshd log:\n{self._log_tail(self.sshd_log)}"
        )

    @staticmethod
    def _log_tail(path: str, size: int = 4000) -> str:
        try:
            with open(path, "rb") as fh:
                return fh.read()[-size:].decode(errors="replace")
        except OSError:
            return "(no log)"

    # signals ---------------------------------------------------------------
    def _catch_sigterm(self) -> None:
        """While mounted, SIGTERM (a CI timeout) raises KeyboardInterrupt so cleanup runs."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
            return

        def on_sigterm(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum} while sshfs test mounts were up")

        self._old_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    # cleanup ---------------------------------------------------------------
    def close(self) -> None:
        """Unmount both, stop sshfs and sshd, remove the temp folder; idempotent, bounded."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        problems: List[str] = []
        interrupted: Optional[BaseException] = None

        def step(fn, *args) -> None:  # type: ignore[no-untyped-def]
            nonlocal interrupted
            try:
                result = fn(*args)
                if isinstance(result, str):
                    problems.append(result)
            except BaseException as exc:  # noqa: B902 - cleanup goes on whatever happens
                if isinstance(exc, (KeyboardInterrupt, SystemExit)) and interrupted is None:
                    interrupted = exc
                problems.append(f"{getattr(fn, '__name__', fn)}: {exc!r}")

        for point in (self.mount_a, self.mount_b):
            step(unmount, point)
        for proc in self.sshfs:  # exits by itself once unmounted; its ssh client with it
            step(lambda p: _stop_pids([p.pid] + _descendants(p.pid)) if p.poll() is None else None, proc)
            step(lambda p: p.wait(timeout=5) and None, proc)
        if self.sshd is not None:
            sshd = self.sshd

            def stop_sshd() -> None:
                children = _descendants(sshd.pid)  # the per-connection sshd processes
                _stop_popen(sshd)
                _stop_pids(children)

            step(stop_sshd)
        still = [p for p in (self.mount_a, self.mount_b) if mounted(p) is not None]
        if still:
            problems.append(f"still mounted: {still}")
        elif not self.keep:
            step(shutil.rmtree, self.dir, True)
        step(self._restore_sigterm)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        if interrupted is not None:
            raise interrupted
        if problems:
            raise NetFSError("sshfs test cleanup: " + " | ".join(problems))


def reap_leftovers(base_dir: Optional[str] = None) -> List[str]:
    """Unmount and stop what a killed earlier run (its owner pid is dead) left behind."""
    done = []
    for folder in glob.glob(os.path.join(base_dir or tempfile.gettempdir(), TEMP_PREFIX + "*")):
        try:
            with open(os.path.join(folder, "owner.pid"), encoding="utf-8") as fh:
                owner = int(fh.read().strip() or 0)
        except (OSError, ValueError):
            continue
        if owner and _pid_alive(owner):
            continue
        folder = os.path.realpath(folder)
        for point in (os.path.join(folder, "mnt_a"), os.path.join(folder, "mnt_b")):
            if mounted(point) is not None and unmount(point) is None:
                done.append(f"unmounted {point}")
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(folder, "sshd.pid"), encoding="utf-8") as fh:
                pid = int(fh.read().strip())
            if os.path.join(folder, "sshd_config") in _cmdline(pid):
                _stop_pids([pid] + _descendants(pid))
                done.append(f"stopped sshd {pid}")
        if all(mounted(os.path.join(folder, p)) is None for p in ("mnt_a", "mnt_b")):
            shutil.rmtree(folder, ignore_errors=True)
    return done


@contextlib.contextmanager
def sshfs_mounts(
    base_dir: Optional[str] = None, timeout: float = 30.0, keep: Optional[bool] = None
) -> Iterator[Mounts]:
    """Yield ``(export_dir, mount_a, mount_b)``: one folder, two sshfs clients of it.

    Raises :class:`NetFSError` when sshd or sshfs cannot be started; everything is
    unmounted and stopped on the way out, whatever happened. ``keep=True`` (or
    ``LITEXP_NETFS_KEEP=1``) keeps the temp folder (the export's files, the logs).
    """
    reap_leftovers(base_dir)
    pair = SshfsPair(base_dir, timeout, keep)
    try:
        yield pair.start()
    except BaseException:
        with contextlib.suppress(NetFSError):  # the first error is the one to see
            pair.close()
        raise
    pair.close()


__all__ = [
    "APT_PACKAGES",
    "CACHE_TIMEOUT",
    "Mounts",
    "NetFSError",
    "SSHFS_CACHE_OPTIONS",
    "SshfsPair",
    "find_fusermount",
    "find_sshd",
    "missing_prerequisites",
    "mounted",
    "reap_leftovers",
    "require_prerequisites",
    "sshfs_mounts",
    "unmount",
]
