"""Tests that need an optional component (MLflow, Qlib, Chromium, sshfs): run it, or skip with the reason.

Under CI (``CI`` set) nothing may skip: a missing component fails the test instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def requires(module: str, why: str) -> ModuleType:
    """Import ``module`` for a test that cannot run without it.

    Missing: the test (or the whole module, when called at import) skips with ``why``,
    except under CI (``CI`` set), where every test must run and it fails instead.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} is not installed ({exc}): {why}"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI installs the test extra and must run this test", pytrace=False)
        pytest.skip(message, allow_module_level=True)
        raise  # pragma: no cover - skip raises
