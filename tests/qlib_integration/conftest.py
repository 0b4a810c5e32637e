"""Fixtures of the real-Qlib tests: Qlib runs in subprocesses (see qlib_support.py), on a
synthetic dataset built once. Without pyqlib installed these tests skip, except under CI
(``CI`` set), where they fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
from qlib_support import Flows, require_qlib, run_flow


@pytest.fixture(scope="session")
def qlib_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic daily dataset in Qlib's bin format, built once per session."""
    require_qlib()
    from qlib_data import make_qlib_data

    return make_qlib_data(tmp_path_factory.mktemp("qlib_data"))


@pytest.fixture
def need_qlib() -> None:
    require_qlib()


@pytest.fixture(scope="session")
def flows(qlib_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Flows:
    """``flows(flow, manager)`` → (summary, work folder); each flow runs once per session."""
    done: Dict[Tuple[str, str], Tuple[Dict[str, Any], Path]] = {}

    def get(flow: str, manager: str) -> Tuple[Dict[str, Any], Path]:
        if (flow, manager) not in done:
            work = tmp_path_factory.mktemp(f"{flow}-{manager}")
            done[flow, manager] = run_flow(flow, manager, qlib_data, work), work
        return done[flow, manager]

    return get
