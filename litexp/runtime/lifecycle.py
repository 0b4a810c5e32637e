"""Ending runs that the process abandons: SIGTERM and interpreter exit.

While at least one recorder is running, a SIGTERM handler (installed from the
main thread only) ends every running recorder as KILLED, with an end time and
its buffered logs flushed, then restores the previous handler and lets it act
(by default: the process dies of SIGTERM, as a scheduler expects). At
interpreter exit, recorders still running are ended FINISHED, or FAILED when
the exit comes from an uncaught exception.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from typing import Any, Dict, Optional, Protocol

logger = logging.getLogger("litexp")


class EndableRun(Protocol):
    """What this module needs of a running recorder."""

    id: Optional[str]
    killed_by_signal: bool

    def end_run(self, status: str) -> None: ...


_active: Dict[int, EndableRun] = {}
_lock = threading.RLock()
_previous_handler: Any = None
_installed = False
_atexit_registered = False


def register(recorder: EndableRun) -> None:
    """Note a recorder as running in this process."""
    global _atexit_registered
    with _lock:
        _active[id(recorder)] = recorder
        if not _atexit_registered:
            atexit.register(_end_all_at_exit)
            _atexit_registered = True
        _install_handler()


def unregister(recorder: EndableRun) -> None:
    with _lock:
        _active.pop(id(recorder), None)
        if not _active:
            _restore_handler()


def _install_handler() -> None:
    global _previous_handler, _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        _previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
        _installed = True
    except (ValueError, OSError):  # not allowed here (embedded interpreters)
        pass


def _restore_handler() -> None:
    global _previous_handler, _installed
    if not _installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, _previous_handler if _previous_handler is not None else signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    _installed = False
    _previous_handler = None


def _end_all(status: str, by_signal: bool = False) -> None:
    with _lock:
        recorders = list(_active.values())
    for recorder in recorders:
        try:
            recorder.end_run(status)
            if by_signal:
                recorder.killed_by_signal = True
        except Exception as exc:  # keep ending the others
            logger.warning("litexp: could not end recorder %s as %s: %s", recorder.id, status, exc)


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous_handler
    _end_all("KILLED", by_signal=True)
    _restore_handler()
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _end_all_at_exit() -> None:
    failed = getattr(sys, "last_value", None) is not None or getattr(sys, "last_exc", None) is not None
    _end_all("FAILED" if failed else "FINISHED")
