"""Getting logged data and final statuses to the server without losing or doubling any.

A log batch is sent at once in one try. When the server cannot take it (no
answer, 408, 429, 5xx, refused credentials or certificate, an answer that is
not MLflow's) the batch goes to the run's spool on disk, and so does
everything after it for that run, so the order holds and memory does not
grow. Later batches try to deliver the spool, no more often than the backoff
allows, merging consecutive entries into full requests. ``flush`` and the
final status deliver it with the full retry policy and raise
:class:`~litexp.errors.UndeliveredError` (naming the file and the server's
last answer) when the server is still away.

Only an answer in which MLflow itself refuses the data (``INVALID_PARAMETER_VALUE``,
``RESOURCE_DOES_NOT_EXIST``…) drops an entry from the spool; it is kept in
``<run>.rejected.jsonl`` and the error is raised.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ...errors import InvalidInputError, LitexpError, NotFoundError, ServerUnreachableError, UndeliveredError
from .http import API, TRANSIENT_STATUSES, HttpClient, backoff_seconds, check
from .messages import HEARTBEAT_TAG, MAX_METRICS, batch_requests, key_values
from .spool import Spool

MAX_PAUSE = 30.0  # longest wait between two delivery tries while a run logs
CHUNK = 64  # spool entries read at a time
MERGE_POINTS = 5 * MAX_METRICS  # metric points merged into one delivery round


class _Held(Exception):
    """The server did not take the request now; the entry stays in the spool."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _refused_by_mlflow(exc: LitexpError) -> bool:
    """MLflow answered that the data itself is wrong (retrying cannot help)."""
    return isinstance(exc, (InvalidInputError, NotFoundError))


class Delivery:
    """Batches and status updates of one server's runs."""

    def __init__(self, client: HttpClient, spool: Spool) -> None:
        self.client = client
        self.spool = spool
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._failures = 0
        self.last_problem = ""

    # circuit ------------------------------------------------------------------------
    def _state_lock(self) -> threading.Lock:
        if self._pid != os.getpid():  # a lock held by another thread at fork time is never released here
            self._pid, self._lock = os.getpid(), threading.Lock()
        return self._lock

    def is_down(self) -> bool:
        """True while the last try failed and the backoff has not passed."""
        return time.monotonic() < self._down_until

    def mark_down(self, why: str = "") -> None:
        with self._state_lock():
            s = self.client.settings
            self._failures += 1
            pause = min(MAX_PAUSE, max(0.5, backoff_seconds(self._failures, s.backoff_factor, s.backoff_jitter)))
            self._down_until = time.monotonic() + pause
            if why:
                self.last_problem = why

    def _mark_up(self) -> None:
        with self._state_lock():
            self._failures = 0
            self._down_until = 0.0

    # sending --------------------------------------------------------------------------
    def _post(self, endpoint: str, body: Mapping[str, Any], retries: Optional[int]) -> None:
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        try:
            response = self.client.request("POST", API + endpoint, data, "application/json", retries)
        except ServerUnreachableError as exc:
            raise _Held(str(exc)) from None
        if response.status in TRANSIENT_STATUSES:
            text = response.body[:300].decode("utf-8", "replace").strip()
            raise _Held(f"{self.client.base_url} answered HTTP {response.status}: {text}")
        try:
            check(response, self.client, f"POST {endpoint}")
        except LitexpError as exc:
            if _refused_by_mlflow(exc):
                raise
            raise _Held(str(exc)) from None  # credentials, certificate, not an MLflow server: keep the data

    def _send(self, run_id: str, entry: Mapping[str, Any], retries: Optional[int]) -> None:
        if "batch" in entry:
            batch = entry["batch"]
            for body in batch_requests(
                run_id,
                batch.get("metrics") or (),
                key_values(batch.get("params") or {}),
                key_values(batch.get("tags") or {}),
            ):
                self._post("runs/log-batch", body, retries)
        elif "update" in entry:
            self._post("runs/update", {"run_id": run_id, **entry["update"]}, retries)
            if entry.get("drop_heartbeat"):  # an ended run has no owner any more
                try:
                    self._post("runs/delete-tag", {"run_id": run_id, "key": HEARTBEAT_TAG}, retries)
                except (LitexpError, _Held):
                    pass

    def send(self, run_id: str, entry: Dict[str, Any]) -> bool:
        """Send one entry now (one try), or spool it; True when the server has it.

        Refused credentials or certificates spool the entry too (the reason is in the
        UndeliveredError of the next flush); data MLflow refuses is raised at once.
        """
        with self.spool.guard(run_id):
            if self.spool.has(run_id) or self.is_down():
                with self.spool.lock(run_id):
                    self.spool.append(run_id, entry)
                    if not self.is_down():
                        self._deliver(run_id, retries=0)
                    return not self.spool.has(run_id)
            try:
                self._send(run_id, entry, 0)
            except _Held as held:
                with self.spool.lock(run_id):
                    self.spool.append(run_id, entry)
                self.mark_down(held.why)
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
            try:
                self._deliver_chunk(run_id, chunk, retries)
            except _Held as held:
                self.mark_down(held.why)
                return False

    def _deliver_chunk(
        self, run_id: str, chunk: List[Tuple[int, Optional[Dict[str, Any]]]], retries: Optional[int]
    ) -> None:
        """Consecutive batches go out merged into full requests; a status update on its own."""
        i = 0
        while i < len(chunk):
            offset, entry = chunk[i]
            if entry is None or "batch" not in entry:
                if entry is not None:
                    self._send_or_reject(run_id, entry, offset, retries)
                self.spool.mark_sent(run_id, offset)
                i += 1
                continue
            j, points = i, 0
            metrics: List[Any] = []
            params: Dict[str, str] = {}
            tags: Dict[str, str] = {}
            while j < len(chunk) and points < MERGE_POINTS:
                item = chunk[j][1]
                if item is None or "batch" not in item:
                    break
                batch = item["batch"]
                new_params = batch.get("params") or {}
                if any(k in params and params[k] != val for k, val in new_params.items()):
                    break  # a param logged twice with two values: the server must see both requests
                metrics.extend(batch.get("metrics") or ())
                params.update(new_params)
                tags.update(batch.get("tags") or {})
                points += len(batch.get("metrics") or ())
                j += 1
            merged = {"metrics": metrics, "params": params, "tags": tags}
            if j - i > 1:
                try:
                    self._send(run_id, {"batch": merged}, retries)
                except _Held:
                    raise
                except LitexpError:  # one entry is refused: find it by sending them one at a time
                    j = i + 1
                    self._send_or_reject(run_id, entry, offset, retries)
            else:
                self._send_or_reject(run_id, entry, offset, retries)
            self.spool.mark_sent(run_id, chunk[j - 1][0])
            i = j

    def _send_or_reject(self, run_id: str, entry: Dict[str, Any], offset: int, retries: Optional[int]) -> None:
        """Send one entry; one MLflow refuses leaves the spool (kept in the rejected file) and is raised."""
        try:
            self._send(run_id, entry, retries)
        except _Held:
            raise
        except LitexpError as exc:
            self.spool.reject(run_id, entry, str(exc))
            self.spool.mark_sent(run_id, offset)
            raise

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
        why = f" The last answer: {self.last_problem}" if self.last_problem else ""
        return UndeliveredError(
            f"{self.client.base_url} did not take {points} metric point(s){what} of run {run_id}; they wait in "
            f"{path}. Nothing is lost; send them when the server takes them again with `litexp spool --send` "
            f"(or litexp.send_spool()).{why}",
            path,
            points,
        )

    def update_run(self, run_id: str, status: str, end_time: Optional[int], drop_heartbeat: bool = False) -> None:
        """Set the status after every spooled batch of the run; spooled too when the server is away.

        ``drop_heartbeat``: the run ends, and its ``litexp.heartbeat`` tag goes with the status.
        """
        update: Dict[str, Any] = {"status": status}
        if end_time is not None:
            update["end_time"] = int(end_time)
        entry: Dict[str, Any] = {"update": update}
        if drop_heartbeat:
            entry["drop_heartbeat"] = True
        with self.spool.guard(run_id):
            if self.send(run_id, entry):
                return
            self.flush(run_id, f" and the status {status}")
