"""The same scenario through litexp to an ``mlflow server`` on a real PostgreSQL database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
from interop_support import mlflow_dump
from rest_support import comparable, differences, log_scenario
from server_support import mlflow_client


@pytest.fixture(scope="module")
def logged(
    postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Tuple[Dict[str, Any], Dict[str, Any], Path]:
    """The scenario logged to a file store and to the PostgreSQL-backed server."""
    tmp = tmp_path_factory.mktemp("postgres-core")
    root = tmp / "mlruns"
    return log_scenario("file:" + str(root), tmp / "file"), log_scenario(postgres_server.url, tmp / "server"), root


class TestPostgres:
    def test_mlflow_client_reads_it_equal_to_the_file_store(self, logged: Any, postgres_server: Any) -> None:
        _, _, root = logged
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        expected = comparable(mlflow_dump.dump_with_client(MlflowClient(tracking_uri=root.as_uri())), server=False)
        actual = comparable(mlflow_dump.dump_with_client(mlflow_client(postgres_server.url)), server=True)
        problems = differences(expected, actual)
        assert problems == [], "\n".join(problems)

    def test_searches_and_objects_answer_like_the_file_store(self, logged: Any) -> None:
        file_side, server_side, _ = logged
        assert server_side["frames"] == file_side["frames"]
        assert server_side["loaded"] == file_side["loaded"]
        assert server_side["artifacts"] == file_side["artifacts"]
