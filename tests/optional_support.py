"""Tests that need an optional component (MLflow, Qlib, Chromium, sshfs): run it, or skip with the reason.

Under CI (``CI`` set) nothing may skip: a missing component fails the test instead, except in
a run of the suite without the test extra (``LITEXP_TEST_WITHOUT_EXTRAS=1``, the nox sessions on
the other Pythons), where a missing MLflow or Qlib skips as it does outside CI.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import List

import pytest

#: The source tree (``litexp/`` is in it).
REPO = Path(__file__).resolve().parents[1]


def package_paths() -> List[str]:
    """What a child Python needs on ``PYTHONPATH`` to import the litexp under test: the source
    tree, unless the suite runs on the installed package (``LITEXP_TEST_INSTALLED=1``)."""
    return [] if os.environ.get("LITEXP_TEST_INSTALLED") == "1" else [str(REPO)]


def extras_must_run() -> bool:
    """Whether a test needing a package of the test extra (mlflow, pyqlib) must run, not skip."""
    return bool(os.environ.get("CI")) and os.environ.get("LITEXP_TEST_WITHOUT_EXTRAS") != "1"


def requires(module: str, why: str) -> ModuleType:
    """Import ``module`` for a test that cannot run without it.

    Missing: the test (or the whole module, when called at import) skips with ``why``,
    except under CI (``CI`` set), where every test must run and it fails instead.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} is not installed ({exc}): {why}"
        if extras_must_run():
            pytest.fail(message + "; CI installs the test extra and must run this test", pytrace=False)
        pytest.skip(message, allow_module_level=True)
        raise  # pragma: no cover - skip raises
