"""Is the process behind a RUNNING run still alive? (pure logic, no store access)

A run is *stale* when its process is gone (same host and boot, pid dead or
reused), or when its heartbeat is older than ``max_age`` seconds (any host).
"""

from __future__ import annotations

import os
import time
from typing import Optional

from .. import platform
from ..records import Heartbeat, RunRecord


def this_process() -> Heartbeat:
    """The heartbeat owner record of the calling process."""
    pid = os.getpid()
    return Heartbeat(
        host=platform.host_name(), pid=pid, pid_start=platform.process_start(pid), boot_id=platform.boot_id()
    )


def _process_alive(hb: Heartbeat) -> bool:
    booted = platform.boot_id()
    if hb.boot_id is not None and booted is not None and hb.boot_id != booted:
        return False
    return platform.pid_alive(hb.pid, hb.pid_start)


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
    if hb.host == platform.host_name() and not _process_alive(hb):
        return f"process {hb.pid} on {hb.host} is gone"
    if hb.last_beat_ms is not None:
        age = now - hb.last_beat_ms / 1000.0
        if age > max_age:
            return f"last heartbeat {age:.0f} s ago (host {hb.host}, pid {hb.pid})"
    return None
