"""Heartbeat files: ``<run>/.litexp-heartbeat`` names the process running a run; its mtime is the last beat."""

from __future__ import annotations

import os
from typing import Optional

from ...records import Heartbeat
from . import fs
from .layout import Layout


def heartbeat_text(owner: Heartbeat) -> bytes:
    return f"{owner.host} {owner.pid} {owner.pid_start or '-'} {owner.boot_id or '-'}\n".encode("utf-8")


class Heartbeats:
    """The heartbeat files of the runs of one store."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _path(self, run_id: str) -> str:
        return self.layout.heartbeat_file(self.layout.find_run_dir(run_id))

    def write_new(self, run_dir: str, owner: Heartbeat) -> None:
        """For a run folder nobody reads yet."""
        fs.write_new_file(self.layout.heartbeat_file(run_dir), heartbeat_text(owner))

    def write(self, run_id: str, owner: Heartbeat) -> None:
        fs.replace_file(self._path(run_id), heartbeat_text(owner))

    def touch(self, run_id: str) -> None:
        try:
            os.utime(self._path(run_id))
        except FileNotFoundError:
            pass

    def read(self, run_id: str) -> Optional[Heartbeat]:
        path = self._path(run_id)
        try:
            parts = fs.read_text(path).split()
            mtime = os.stat(path).st_mtime
            return Heartbeat(
                host=parts[0],
                pid=int(parts[1]),
                pid_start=int(parts[2]) if len(parts) > 2 and parts[2] != "-" else None,
                boot_id=parts[3] if len(parts) > 3 and parts[3] != "-" else None,
                last_beat_ms=int(mtime * 1000),
            )
        except (OSError, ValueError, IndexError, UnicodeDecodeError):
            return None

    def remove(self, run_id: str) -> None:
        try:
            os.unlink(self._path(run_id))
        except FileNotFoundError:
            pass
