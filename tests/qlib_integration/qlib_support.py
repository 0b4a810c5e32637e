"""Helpers of the real-Qlib tests: run Qlib in a fresh interpreter, and a flow of ``flows.py``.

Qlib keeps global state (its config ``C``, ``R``, ``sys.excepthook``, logging), and a loaded
``qlib.workflow`` makes every ``litexp.FileExpManager`` Qlib-flavoured, so no test here
imports Qlib into the pytest process: each runs a script with Qlib in a fresh interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest
from interop_support import mlflow_env
from optional_support import extras_must_run, package_paths

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FLOWS = HERE / "flows.py"
#: A Qlib flow taking longer than this is a hang, not a slow machine.
FLOW_TIMEOUT = 900
#: The ``flows`` fixture: ``flows(flow, manager)`` → (summary, work folder).
Flows = Callable[[str, str], Tuple[Dict[str, Any], Path]]


def require_qlib() -> None:
    if importlib.util.find_spec("qlib") is None:
        message = "pyqlib is not installed (pip install '.[test]')"
        if extras_must_run():
            pytest.fail(message + "; CI must run the Qlib tests")
        pytest.skip(message)


def qlib_env(**extra: str) -> Dict[str, str]:
    """Environment of a Qlib subprocess: MLflow's (see ``mlflow_env``), deterministic, and this
    checkout importable (``litexp``, ``qlib_data``)."""
    return mlflow_env(
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(package_paths() + [str(HERE)]),
        **extra,
    )


def run_python(code: str, cwd: Path, timeout: float = 300) -> Any:
    """Run ``code`` in a fresh interpreter in ``cwd``; it prints one JSON value last, returned here."""
    script = cwd / "_check.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=qlib_env(), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def run_flow(
    flow: str, manager: str, data: Path, work: Path, *args: str, timeout: float = FLOW_TIMEOUT
) -> Dict[str, Any]:
    """Run one flow of ``flows.py`` under ``manager`` ("litexp" or "mlflow") in ``work``; return its summary."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{flow}.pkl"
    cmd = [
        sys.executable,
        str(FLOWS),
        flow,
        "--manager",
        manager,
        "--data",
        str(data),
        "--work",
        str(work),
        "--out",
        str(out),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=work, env=qlib_env(), capture_output=True, text=True, timeout=timeout)
    (work / f"{flow}.log").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise AssertionError(f"flow {flow} under {manager} failed ({proc.returncode}):\n{proc.stderr[-12000:]}")
    with open(out, "rb") as fh:
        return pickle.load(fh)
