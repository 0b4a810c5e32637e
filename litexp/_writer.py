"""The background writer of an active recorder, which also keeps its heartbeat.

``log_params`` / ``log_metrics`` / ``set_tags`` only queue their data; one
thread per active run drains the queue and writes everything waiting in one
batch (many metric lines in one ``write`` per metric file). ``flush`` waits for
the queue to be written. A write that fails is never dropped: its error is
raised by the next call of the recorder (or by ``flush`` / ``end_run``).

The same thread refreshes the run's heartbeat every ``LITEXP_HEARTBEAT_INTERVAL``
seconds (default 5), so a crashed process can be told from a live one.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from .errors import LitexpError, LoggingFailedError
from .store import TrackingStore

MetricItem = Tuple[str, float, int, int]  # key, value, timestamp, step
_STOP = object()


class BackgroundWriter:
    """Writes a run's logged data from a daemon thread, in batches."""

    def __init__(self, store: TrackingStore, run_id: str, heartbeat_interval: Optional[float] = None) -> None:
        self.store = store
        self.run_id = run_id
        if heartbeat_interval is None:
            heartbeat_interval = float(os.environ.get("LITEXP_HEARTBEAT_INTERVAL", "5"))
        self.heartbeat_interval = heartbeat_interval
        self._last_beat = time.monotonic()
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._error: Optional[BaseException] = None
        self._error_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=f"litexp-writer-{run_id[:8]}", daemon=True)
        self._thread.start()

    # caller side ------------------------------------------------------------
    def raise_pending(self) -> None:
        """Raise the error of a failed background write, once."""
        with self._error_lock:
            error, self._error = self._error, None
        if error is not None:
            if isinstance(error, LitexpError):
                message = str(error)
            else:
                message = f"{type(error).__name__}: {error}"
            raise LoggingFailedError(
                f"A background write to recorder {self.run_id} failed: {message}"
            ) from error

    def submit(self, metrics: List[MetricItem] = (), params: Dict[str, str] = {}, tags: Dict[str, str] = {}) -> None:  # type: ignore[assignment]
        self.raise_pending()
        if not self._thread.is_alive():
            raise LoggingFailedError(f"The writer of recorder {self.run_id} has stopped; end the run and start again.")
        self._queue.put((list(metrics), dict(params), dict(tags)))

    def flush(self) -> None:
        """Wait until everything queued so far is written; raise a pending error."""
        if self._thread.is_alive():
            self._queue.join()
        self.raise_pending()

    def close(self) -> None:
        """Flush, then stop the thread."""
        try:
            self.flush()
        finally:
            if self._thread.is_alive():
                self._queue.put(_STOP)
                self._thread.join()

    # writer side ------------------------------------------------------------
    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        try:
            self.store.touch_heartbeat(self.run_id)
        except Exception:  # a missed beat is not worth failing the run for
            pass

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.heartbeat_interval)
            except queue.Empty:
                self._beat()
                continue
            if time.monotonic() - self._last_beat >= self.heartbeat_interval:
                self._beat()
            items = [item]
            while True:  # take everything already waiting: one batch
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(i is _STOP for i in items)
            batch = [i for i in items if i is not _STOP]
            try:
                if batch:
                    self._write(batch)
            except BaseException as exc:  # reported to the caller, never dropped
                with self._error_lock:
                    if self._error is None:
                        self._error = exc
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return

    def _write(self, batch: List[Tuple[List[MetricItem], Dict[str, str], Dict[str, str]]]) -> None:
        """Write a batch; one bad item (a param clashing with another process) spoils nothing else."""
        metrics: List[MetricItem] = []
        params: Dict[str, str] = {}
        tags: Dict[str, str] = {}
        for m, p, t in batch:
            metrics.extend(m)
            params.update(p)
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
