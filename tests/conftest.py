"""Shared fixtures: every test works on real files under its own tmp_path.

Tests are grouped by layer: ``store/``, ``search/``, ``api/``, ``interop/`` (MLflow's own
code reads and writes), ``reliability/`` and ``qlib_integration/`` (real Qlib). Support
modules shared between groups stay in this folder.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@pytest.fixture
def store_dir(tmp_path):
    """A path for a fresh store (not created yet)."""
    return tmp_path / "mlruns"


@pytest.fixture
def uri(store_dir):
    return "file:" + str(store_dir)


@pytest.fixture
def R(uri):
    """A fresh ``R`` on its own store; any recorder left running is ended."""
    from litexp import FileExpManager, QlibRecorder

    r = QlibRecorder(FileExpManager(uri, "Experiment"))
    yield r
    r.end_exp("FINISHED")


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Tests run in their own folder so an implicit ./mlruns never leaks."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
