"""Running the ``litexp`` command as a user does, and a small store to run it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from litexp import FileExpManager, QlibRecorder

LITEXP = [sys.executable, "-m", "litexp"]


def cli(
    *args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None, timeout: float = 120
) -> "subprocess.CompletedProcess[str]":
    """``litexp ARGS`` in a child process (text output); the environment without MLFLOW_TRACKING_URI."""
    environ = dict(os.environ)
    environ.pop("MLFLOW_TRACKING_URI", None)
    environ.update(env or {})
    return subprocess.run(
        LITEXP + list(args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(*args: str, **kwargs: object) -> str:
    """The stdout of a command that must succeed."""
    done = cli(*args, **kwargs)  # type: ignore[arg-type]
    assert done.returncode == 0, f"litexp {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


def failed(*args: str, code: int = 2, **kwargs: object) -> str:
    """The stderr of a command that must fail with ``code``, as one line and no traceback."""
    done = cli(*args, **kwargs)  # type: ignore[arg-type]
    assert done.returncode == code, f"exit {done.returncode}, stdout {done.stdout!r}, stderr {done.stderr!r}"
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("litexp: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def make_store(root: Path, runs: int = 3, experiment: str = "alpha") -> List[str]:
    """An experiment with ``runs`` finished runs (params, a 5-step metric history, tags, an
    artifact); returns their ids, first logged first."""
    r = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    ids = []
    for i in range(runs):
        with r.start(experiment_name=experiment, recorder_name=f"run{i}"):
            r.log_params(model="lgbm" if i else "linear", lr=0.1 * i, seed=7)
            for step in range(5):
                r.log_metrics(step=step, ic=0.01 * i + 0.001 * step, loss=1.0 / (step + 1 + i))
            r.set_tags(team="red")
            r.save_objects(pred=[i, i + 1])
            ids.append(r.get_recorder().id)
    return ids


def stderr_on_a_terminal(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """Run ``litexp ARGS`` with stderr on a pseudo-terminal; (status, stdout, what the terminal got)."""
    import pty

    leader, follower = pty.openpty()
    try:
        environ = dict(os.environ, **(env or {}))
        done = subprocess.run(
            LITEXP + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=follower, timeout=120, env=environ
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    return done.returncode, done.stdout.decode(), seen.decode(errors="replace")
