"""Fixtures of the REST-backend tests: real ``mlflow server`` processes (see ``server_support``).

A failing test's report gets the log tail of every server still running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generator, Iterator

import pytest
import server_support as support
from server_support import MlflowServer


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One SQLite-backed server shared by a test module (do not kill it: use ``fresh_sqlite_server``)."""
    with support.sqlite_server(tmp_path_factory.mktemp("sqlite-server")) as server:
        yield server


@pytest.fixture
def fresh_sqlite_server(tmp_path: Path) -> Iterator[MlflowServer]:
    """A SQLite-backed server of this test alone (it may kill and restart it)."""
    with support.sqlite_server(tmp_path / "server") as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One server on a throwaway PostgreSQL cluster, shared by a test module."""
    with support.postgres_server(tmp_path_factory.mktemp("postgres-server")) as server:
        yield server


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One basic-auth server (admin ``support.AUTH_ADMIN``), shared by a test module."""
    with support.auth_server(tmp_path_factory.mktemp("auth-server")) as server:
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in sorted(MlflowServer.live, key=lambda s: s.port):
            report.sections.append((f"mlflow server log {server.url} ({server.backend})", server.log_tail()))
