"""``python -m litexp ui [STORE]``: open a store in MLflow's web UI.

litexp does not need MLflow, but MLflow's UI is the way to look at runs. When ``mlflow`` is
importable, :func:`ui_main` runs ``mlflow ui`` on the store (file backend, with the
``MLFLOW_ALLOW_FILE_STORE=true`` opt-in MLflow >= 3.13 asks for) until it exits or Ctrl-C;
otherwise it prints the two ways to open the store, as commands to copy.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional

from .records import DEFAULT_STORE_FOLDER

__all__ = ["ui_main", "mlflow_available", "ui_command", "manual_instructions"]

STOP_GRACE_SECONDS = 10.0
INTERRUPTED = 130


def mlflow_available() -> bool:
    """Whether ``import mlflow`` can work in this interpreter (nothing is imported)."""
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        return False


def _store_root(store: Optional[str]) -> str:
    from .store import uri_to_path

    return uri_to_path(store if store else DEFAULT_STORE_FOLDER)


def ui_command(root: str, port: int, host: str) -> List[str]:
    """The command that serves the store at ``root`` with this interpreter's MLflow."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        Path(root).as_uri(),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def manual_instructions(root: str, port: int, host: str) -> str:
    """The two ways to open the store at ``root`` in MLflow, as shell commands."""
    source = os.path.dirname(root) if os.path.basename(root) == DEFAULT_STORE_FOLDER else root
    db = "sqlite:///" + os.path.join(os.path.dirname(root), "mlflow.db")
    q = shlex.quote
    return "\n".join(
        [
            "MLflow is not installed in this environment (litexp does not need it; its web UI does).",
            "Install it (pip install mlflow), then open the store in one of two ways:",
            "",
            "  1. the file store directly (MLflow >= 3.13 needs the opt-in variable):",
            f"     MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {q(Path(root).as_uri())} "
            f"--host {q(host)} --port {port} --workers 1",
            "",
            "  2. migrate to SQLite once, then use MLflow's default backend:",
            f"     mlflow migrate-filestore --source {q(source)} --target {q(db)}",
            f"     mlflow ui --backend-store-uri {q(db)} --host {q(host)} --port {port}",
        ]
    )


def _stop(proc: "subprocess.Popen[Any]") -> None:
    """Stop the UI server and the workers it started: SIGINT, then SIGTERM, then SIGKILL."""
    steps = (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM))
    for sig in steps:
        if proc.poll() is not None:
            break
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, sig)
            else:  # pragma: no cover - Windows
                proc.terminate()
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            continue
    if hasattr(os, "killpg"):
        try:  # workers the server left behind
            os.killpg(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except (ProcessLookupError, PermissionError):
            pass


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def ui_main(store: Optional[str], port: int, host: str) -> int:
    """Open ``store`` (a folder or ``file:`` URI; ``./mlruns`` when None) in MLflow's UI.

    With MLflow importable: run ``mlflow ui`` on the store until it exits (its exit code
    is returned) or until Ctrl-C / SIGTERM (the server is stopped, 130 is returned).
    Without MLflow: print the commands that open the store and return 1. A missing store
    prints an error and returns 2.
    """
    from .errors import LitexpError

    try:
        root = _store_root(store)
    except LitexpError as exc:
        print(f"litexp: {exc}", file=sys.stderr)
        return 2
    if not os.path.isdir(root):
        print(
            f"litexp: no store at {root} (give the folder that holds the experiments, e.g. ./mlruns).", file=sys.stderr
        )
        return 2
    if not mlflow_available():
        print(manual_instructions(root, port, host))
        return 1
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    print(f"litexp: serving {root} with MLflow's UI at http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread
        previous = None
    proc = None
    try:
        proc = subprocess.Popen(ui_command(root, port, host), env=env, start_new_session=hasattr(os, "killpg"))
        code = int(proc.wait())
        return 128 - code if code < 0 else code  # killed by a signal: the shell's 128 + N
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        if proc is not None:
            _stop(proc)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
