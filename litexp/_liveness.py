"""Is the process behind a RUNNING run still alive? (pure logic, no store access)

A run is *stale* when its process is gone (same host and boot, pid dead or
reused), or when its heartbeat is older than ``max_age`` seconds (any host).
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Optional

from .store.records import Heartbeat, RunRecord


@lru_cache(maxsize=1)
def boot_id() -> Optional[str]:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def pid_start(pid: int) -> Optional[int]:
    """Start time of a process in clock ticks since boot (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def this_process() -> Heartbeat:
    pid = os.getpid()
    return Heartbeat(host=os.uname().nodename, pid=pid, pid_start=pid_start(pid), boot_id=boot_id())


def _process_alive(hb: Heartbeat) -> bool:
    if hb.boot_id is not None and boot_id() is not None and hb.boot_id != boot_id():
        return False
    try:
        os.kill(hb.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if hb.pid_start is not None:
        current = pid_start(hb.pid)
        if current is not None and current != hb.pid_start:
            return False
    return True


def stale_reason(
    run: RunRecord,
    hb: Optional[Heartbeat],
    max_age: float,
    include_unknown: bool = False,
    now: Optional[float] = None,
) -> Optional[str]:
    """Why ``run`` is stale, or None when it is not (or is not RUNNING).

    A RUNNING run without a heartbeat (written by MLflow or another tool) is
    judged by its age only when ``include_unknown`` is true.
    """
    if run.status != "RUNNING":
        return None
    now = time.time() if now is None else now
    if hb is None:
        if not include_unknown:
            return None
        age = now - run.start_time / 1000.0
        return f"no heartbeat and started {age:.0f} s ago" if age > max_age else None
    if hb.host == os.uname().nodename and not _process_alive(hb):
        return f"process {hb.pid} on {hb.host} is gone"
    if hb.last_beat_ms is not None:
        age = now - hb.last_beat_ms / 1000.0
        if age > max_age:
            return f"last heartbeat {age:.0f} s ago (host {hb.host}, pid {hb.pid})"
    return None
