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


def pytest_report_header(config: pytest.Config) -> str:
    import litexp

    return f"litexp {litexp.__version__} from {os.path.dirname(litexp.__file__)}"


def pytest_configure(config: pytest.Config) -> None:
    """With ``LITEXP_TEST_INSTALLED=1`` (CI, nox), the package under test must be the installed
    one, not the source tree next to the tests."""
    if os.environ.get("LITEXP_TEST_INSTALLED") != "1":
        return
    import litexp

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = os.path.dirname(os.path.abspath(litexp.__file__))
    if package.startswith(os.path.join(here, "litexp")) or "site-packages" not in package:
        raise pytest.UsageError(
            f"litexp is imported from {package}, not from an installed wheel: run `pytest` (not "
            "`python -m pytest`, which puts the source tree first) after installing the package."
        )


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
