"""Write-behind logging for running recorders, and their heartbeats.

``log_params`` / ``log_metrics`` / ``set_tags`` of an active recorder only
append to that run's pending list. One daemon thread per process drains every
run's list in batches (many metric lines in one ``write`` per metric file) and
refreshes each run's heartbeat every ``LITEXP_HEARTBEAT_INTERVAL`` seconds
(default 5). ``flush`` writes what is pending from the calling thread itself,
so ending a run never waits for the thread to wake up.

A write that fails is never dropped: its error is raised by the recorder's next
call, by ``flush`` or by ``end_run``; the other items of the batch are written.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Deque, Dict, List, Optional, Sequence, Tuple

from .. import config
from ..errors import LitexpError, LoggingFailedError
from ..store import TrackingStore

MetricItem = Tuple[str, float, int, int]  # key, value, timestamp, step
Item = Tuple[Sequence[MetricItem], Dict[str, str], Dict[str, str]]

COALESCE_SECONDS = 0.02  # let a burst of calls gather into one batch


class RunWriter:
    """The pending logs and the heartbeat of one running run."""

    def __init__(self, store: TrackingStore, run_id: str, heartbeat_interval: Optional[float] = None) -> None:
        self.store = store
        self.run_id = run_id
        self.heartbeat_interval = config.heartbeat_interval() if heartbeat_interval is None else heartbeat_interval
        self.last_beat = time.monotonic()
        self._pending: Deque[Item] = collections.deque()
        self._write_lock = threading.RLock()
        self._error: Optional[BaseException] = None
        self._closed = False
        _service.add(self)

    # caller side ------------------------------------------------------------
    def raise_pending(self) -> None:
        """Raise the error of a failed background write, once."""
        error, self._error = self._error, None
        if error is not None:
            message = str(error) if isinstance(error, LitexpError) else f"{type(error).__name__}: {error}"
            raise LoggingFailedError(f"A background write to recorder {self.run_id} failed: {message}") from error

    def submit(self, metrics: Sequence[MetricItem], params: Dict[str, str], tags: Dict[str, str]) -> None:
        """Queue one call's data (already validated)."""
        if self._error is not None:
            self.raise_pending()
        if self._closed:
            raise LoggingFailedError(f"Recorder {self.run_id} has ended; its writer is closed.")
        self._pending.append((metrics, params, tags))
        _service.wake()

    def flush(self) -> None:
        """Write everything queued so far (from this thread) and wait until the store has it; raise a pending error."""
        self.drain()
        self.raise_pending()
        self.store.flush_run(self.run_id)

    def close(self) -> None:
        """Write what is queued and stop serving this run (the store delivers the rest with the final status)."""
        try:
            self.drain()
            self.raise_pending()
        finally:
            self._closed = True
            _service.remove(self)
            self.drain()

    # writing ------------------------------------------------------------------
    def drain(self) -> None:
        """Write every pending item as one batch."""
        with self._write_lock:
            batch: List[Item] = []
            pending = self._pending
            while pending:
                batch.append(pending.popleft())
            if batch:
                try:
                    self._write(batch)
                except BaseException as exc:  # reported to the caller, never dropped
                    if self._error is None:
                        self._error = exc

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        try:
            self.store.touch_heartbeat(self.run_id)
        except Exception:  # a missed beat is not worth failing the run for
            pass

    def _write(self, batch: List[Item]) -> None:
        """One bad item (a param clashing with another process's value) spoils nothing else."""
        metrics: List[MetricItem] = []
        params: Dict[str, str] = {}
        tags: Dict[str, str] = {}
        for m, p, t in batch:
            if m:
                metrics.extend(m)
            if p:
                params.update(p)
            if t:
                tags.update(t)
        errors: List[BaseException] = []
        if metrics or tags:
            try:
                self.store.log_batch(self.run_id, metrics, {}, tags)
            except BaseException as exc:
                errors.append(exc)
        if params:
            try:
                self.store.log_batch(self.run_id, (), params, {})
            except BaseException:
                for key, value in params.items():
                    try:
                        self.store.log_batch(self.run_id, (), {key: value}, {})
                    except BaseException as exc:
                        errors.append(exc)
        if errors:
            raise errors[0]


class _WriterService:
    """The process's one writer thread, started on first use (and again after a fork)."""

    def __init__(self) -> None:
        self._writers: Dict[int, RunWriter] = {}
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._event = threading.Event()
            self._thread = threading.Thread(target=self._run, name="litexp-writer", daemon=True)
            self._thread.start()

    def add(self, writer: RunWriter) -> None:
        with self._lock:
            self._writers[id(writer)] = writer
            self._ensure_thread()
        self._event.set()  # let the thread pick up this writer's heartbeat interval

    def remove(self, writer: RunWriter) -> None:
        with self._lock:
            self._writers.pop(id(writer), None)

    def wake(self) -> None:
        if not self._event.is_set():
            self._event.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                writers = list(self._writers.values())
            timeout = min((w.heartbeat_interval for w in writers), default=float(config.HEARTBEAT_INTERVAL.default))
            if self._event.wait(timeout):
                time.sleep(COALESCE_SECONDS)
                self._event.clear()
            now = time.monotonic()
            for writer in writers:
                writer.drain()
                if now - writer.last_beat >= writer.heartbeat_interval:
                    writer.beat()


_service = _WriterService()


def _after_fork_in_child() -> None:
    global _service
    _service = _WriterService()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
