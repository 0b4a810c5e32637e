"""Facts about this machine and its processes, with a safe answer on every operating system.

Linux gives a boot id and process start times (``/proc``); elsewhere those are
``None`` and callers fall back to weaker checks. ``pid_alive`` never signals a
process on Windows (there ``os.kill(pid, 0)`` would terminate it): it asks the
kernel through ``OpenProcess`` instead.
"""

from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache
from typing import Dict, Optional, Sequence

__all__ = ["host_name", "boot_id", "process_start", "pid_alive"]


@lru_cache(maxsize=1)
def host_name() -> str:
    """This machine's name (the node name; ``localhost`` when it cannot be told)."""
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


@lru_cache(maxsize=1)
def boot_id() -> Optional[str]:
    """An id of the current boot (Linux), or None: tells a pid of this boot from an older one."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> Optional[int]:
    """When a process started, in clock ticks since boot (Linux), or None: tells a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]  # ctypes.windll exists on Windows only
    process_query_limited_information = 0x1000
    still_active = 259
    handle = kernel32.OpenProcess(process_query_limited_information, False, pid)
    if not handle:
        return bool(kernel32.GetLastError() == 5)  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def pid_alive(pid: int, started: Optional[int] = None) -> bool:
    """Is process ``pid`` running (and, when ``started`` is known, the same process, not a reuse)?

    Unsure answers are True: a live job is never taken for dead.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":
        try:
            return _windows_pid_alive(pid)
        except Exception:
            return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only (POSIX)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        pass
    if started is not None:
        current = process_start(pid)
        if current is not None and current != started:
            return False
    return True


def environment_variables(prefix: str, names: Sequence[str] = ()) -> Dict[str, str]:
    """The environment variables whose name starts with ``prefix``, and those in ``names``."""
    env = os.environ
    raw = getattr(env, "_data", None)
    if os.name == "posix" and isinstance(raw, dict):  # match the encoded keys instead of decoding every one
        start = os.fsencode(prefix)
        keys = [os.fsdecode(k) for k in raw if k.startswith(start)]
    else:
        keys = [k for k in env if k.startswith(prefix)]
    found = {}
    for name in keys:
        value = env.get(name)
        if value is not None:
            found[name] = value
    for name in names:
        value = env.get(name)
        if value is not None:
            found[name] = value
    return found
