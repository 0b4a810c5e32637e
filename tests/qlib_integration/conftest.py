"""Fixtures of the real-Qlib tests: Qlib runs in subprocesses (see qlib_support.py), on a
synthetic dataset built once. Without pyqlib installed these tests skip, except under CI
(``CI`` set), where they fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from qlib_support import require_qlib


@pytest.fixture(scope="session")
def qlib_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic daily dataset in Qlib's bin format, built once per session."""
    require_qlib()
    from qlib_data import make_qlib_data

    return make_qlib_data(tmp_path_factory.mktemp("qlib_data"))


@pytest.fixture
def need_qlib() -> None:
    require_qlib()
