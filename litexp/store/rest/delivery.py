"""Getting logged data and final statuses to the server without losing or doubling any.

A log batch is sent at once in one try. When the server cannot be reached
(or answers 408, 429 or 5xx) the batch goes to the run's spool on disk, and
so does everything after it for that run, so the order holds and memory does
not grow. Later batches try to deliver the spool, no more often than the
backoff allows; ``flush`` and the final status deliver it with the full retry
policy and raise :class:`~litexp.errors.UndeliveredError` (naming the file)
when the server is still away.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ...errors import LitexpError, ServerUnreachableError, UndeliveredError
from .http import API, TRANSIENT_STATUSES, HttpClient, backoff_seconds, check
from .messages import HEARTBEAT_TAG, batch_requests, key_values
from .spool import Spool

MAX_PAUSE = 30.0  # longest wait between two delivery tries while a run logs
CHUNK = 64  # spool entries read at a time


class _Transient(Exception):
    """The server could not take the request now; try again later."""


class Delivery:
    """Batches and status updates of one server's runs."""

    def __init__(self, client: HttpClient, spool: Spool) -> None:
        self.client = client
        self.spool = spool
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._failures = 0

    # circuit ------------------------------------------------------------------------
    def is_down(self) -> bool:
        """True while the last try failed and the backoff has not passed."""
        return time.monotonic() < self._down_until

    def mark_down(self) -> None:
        with self._lock:
            s = self.client.settings
            self._failures += 1
            pause = min(MAX_PAUSE, max(0.5, backoff_seconds(self._failures, s.backoff_factor, s.backoff_jitter)))
            self._down_until = time.monotonic() + pause

    def _mark_up(self) -> None:
        with self._lock:
            self._failures = 0
            self._down_until = 0.0

    # sending --------------------------------------------------------------------------
    def _post(self, endpoint: str, body: Mapping[str, Any], retries: Optional[int]) -> None:
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        try:
            response = self.client.request("POST", API + endpoint, data, "application/json", retries)
        except ServerUnreachableError:
            raise _Transient() from None
        if response.status in TRANSIENT_STATUSES:
            raise _Transient()
        check(response, self.client, f"POST {endpoint}")

    def _send(self, run_id: str, entry: Mapping[str, Any], retries: Optional[int]) -> None:
        if "batch" in entry:
            batch = entry["batch"]
            for body in batch_requests(run_id, batch.get("metrics") or (), key_values(batch.get("params") or {}),
                                       key_values(batch.get("tags") or {})):
                self._post("runs/log-batch", body, retries)
        elif "update" in entry:
            self._post("runs/update", {"run_id": run_id, **entry["update"]}, retries)
            if entry["update"].get("status") != "RUNNING":  # an ended run has no owner any more
                try:
                    self._post("runs/delete-tag", {"run_id": run_id, "key": HEARTBEAT_TAG}, retries)
                except LitexpError:
                    pass

    def send(self, run_id: str, entry: Dict[str, Any], direct_retries: Optional[int] = 0) -> bool:
        """Send one entry now, or spool it; True when the server has it."""
        with self.spool.guard(run_id):
            if self.spool.has(run_id) or self.is_down():
                with self.spool.lock(run_id):
                    self.spool.append(run_id, entry)
                    if not self.is_down():
                        self._deliver(run_id, retries=0)
                    return not self.spool.has(run_id)
            try:
                self._send(run_id, entry, direct_retries)
            except _Transient:
                with self.spool.lock(run_id):
                    self.spool.append(run_id, entry)
                self.mark_down()
                return False
            self._mark_up()
            return True

    def _deliver(self, run_id: str, retries: Optional[int]) -> bool:
        """Send the spool in order (lock held); True when it is empty. A refused entry is raised."""
        while True:
            chunk = self._pending(run_id)
            if not chunk:
                self._mark_up()
                return True
            for offset, entry in chunk:
                if entry is not None:
                    try:
                        self._send(run_id, entry, retries)
                    except _Transient:
                        self.mark_down()
                        return False
                    except LitexpError:
                        self.spool.mark_sent(run_id, offset)  # the server will never take it: reported, not retried
                        raise
                self.spool.mark_sent(run_id, offset)

    def _pending(self, run_id: str) -> List[Tuple[int, Optional[Dict[str, Any]]]]:
        chunk = []
        for item in self.spool.pending(run_id):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                break
        return chunk

    # waiting for delivery -------------------------------------------------------------
    def flush(self, run_id: str, what: str = "") -> None:
        """Deliver the run's spool with the full retry policy; UndeliveredError when it stays."""
        if not self.spool.has(run_id):
            return
        with self.spool.lock(run_id):
            if not self.spool.has(run_id) or self._deliver(run_id, retries=None):
                return
            raise self.undelivered(run_id, what)

    def undelivered(self, run_id: str, what: str = "") -> UndeliveredError:
        path = self.spool.path(run_id)
        points = self.spool.points(run_id)
        return UndeliveredError(
            f"{self.client.base_url} could not be reached: {points} metric point(s){what} of run {run_id} wait in "
            f"{path}. Nothing is lost; send them when the server is back with `litexp spool --send` "
            "(or litexp.send_spool()).",
            path, points,
        )

    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> None:
        """Set the status after every spooled batch of the run; spooled too when the server is away."""
        update: Dict[str, Any] = {"status": status}
        if end_time is not None:
            update["end_time"] = int(end_time)
        entry = {"update": update}
        with self.spool.guard(run_id):
            if self.send(run_id, entry, direct_retries=None):
                return
            self.flush(run_id, f" and the status {status}")
