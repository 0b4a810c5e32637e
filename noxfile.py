"""The test matrix, types, lint and the wheel: ``nox -l`` lists the sessions.

- ``tests-3.9`` … ``tests-3.13``: the suite that needs no MLflow and no Qlib (those tests skip
  with the reason), against the installed wheel;
- ``full``: every test on 3.11 with the test extra (the real mlflow and pyqlib), against the
  installed wheel — what CI runs;
- ``types``: ``mypy`` (strict, on the whole package);
- ``lint``: ``ruff check`` and ``ruff format --check``;
- ``build``: the sdist and wheel (``python -m build``), their metadata checked (``twine check``).

Interpreters are found on ``PATH`` and among pyenv's (``$(pyenv root)/versions/*/bin``); a
missing one is skipped with a message (``--error-on-missing-interpreters`` makes it an error,
as CI does).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

import nox

HERE = Path(__file__).parent
#: The interpreters the classifiers name; 3.11 runs the full suite.
NO_MLFLOW_PYTHONS = ["3.9", "3.10", "3.12", "3.13"]
FULL_PYTHON = "3.11"
nox.options.sessions = ["lint", "types", "build", "tests", "full"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = False


def _add_pyenv_interpreters() -> None:
    """Put pyenv's interpreters on PATH, so that ``python3.9`` … resolve without ``pyenv local``."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", "*", "bin")))
    if found:
        os.environ["PATH"] = os.pathsep.join(found + [os.environ.get("PATH", "")])


_add_pyenv_interpreters()


def _wheel(session: nox.Session) -> str:
    """The wheel to test: ``$LITEXP_WHEEL`` (CI builds it once), else one built now."""
    given = os.environ.get("LITEXP_WHEEL")
    if given:
        return os.path.abspath(given)
    out = tempfile.mkdtemp(prefix="litexp-wheel-")
    session.run("python", "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, str(HERE), silent=True)
    (wheel,) = glob.glob(os.path.join(out, "litexp-*.whl"))
    return wheel


def _pytest_on_the_wheel(session: nox.Session, extras: bool) -> None:
    """pytest against the installed package: ``LITEXP_TEST_INSTALLED`` makes the suite check that
    ``litexp`` comes from site-packages, not from the source tree; without the test extra, its
    tests skip (``LITEXP_TEST_WITHOUT_EXTRAS``), also under CI."""
    env = {"LITEXP_TEST_INSTALLED": "1", "LITEXP_TEST_WITHOUT_EXTRAS": "0" if extras else "1"}
    session.run("pytest", "-q", *session.posargs, env=env)


@nox.session(python=NO_MLFLOW_PYTHONS)
def tests(session: nox.Session) -> None:
    """The suite without MLflow and Qlib, on the installed wheel."""
    wheel = _wheel(session)
    session.install(wheel, "pytest>=7", "hypothesis>=6.80")
    _pytest_on_the_wheel(session, extras=False)


@nox.session(python=FULL_PYTHON)
def full(session: nox.Session) -> None:
    """Every test, with the real mlflow and pyqlib (the test extra), on the installed wheel."""
    wheel = _wheel(session)
    session.install(f"{wheel}[test]")
    _pytest_on_the_wheel(session, extras=True)


@nox.session(python=FULL_PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict on the package (the settings are in pyproject.toml)."""
    session.install("-e", ".[typecheck]")
    session.run("mypy")  # strict, on the whole package: [tool.mypy] in pyproject.toml


@nox.session(python=FULL_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff's lint rules and formatting, as configured in pyproject.toml."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=FULL_PYTHON)
def build(session: nox.Session) -> None:
    """The sdist and the wheel, their metadata checked, the version the package reports."""
    session.install("build", "twine")
    dist = HERE / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(HERE))
    session.run("twine", "check", "--strict", *glob.glob(str(dist / "*")))
