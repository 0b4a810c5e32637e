"""Qlib's workflow_by_code with litexp as its manager and an ``http://`` tracking URI in
``qlib.init(exp_manager=...)``: the run reaches a real ``mlflow server`` and reads back, through
Qlib's ``R``, equal to the same flow on a file store (Qlib itself imports mlflow, so this side
runs with mlflow installed; the REST tests in tests/server run litexp without it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from qlib_support import Flows, run_flow
from server_support import MlflowServer, mlflow_client, sqlite_server
from test_qlib_workflows import ADAPTER, WORKFLOW_ARTIFACTS, only_recorder, store_differences

pytestmark = pytest.mark.usefixtures("need_qlib")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with sqlite_server(tmp_path_factory.mktemp("qlib-server")) as running:
        yield running


def test_workflow_by_code_on_a_server_matches_the_file_store(
    flows: Flows, qlib_data: Path, server: Any, tmp_path: Path
) -> None:
    on_file, _ = flows("workflow", "litexp")
    on_server = run_flow("workflow", "litexp", qlib_data, tmp_path / "work", "--uri", server.url)
    assert on_server["manager_class"] == ADAPTER
    assert store_differences(on_server["store"], on_file["store"]) == []
    assert on_server["loaded"] == on_file["loaded"]
    rec = only_recorder(on_server, "workflow")
    assert rec["artifacts"] == WORKFLOW_ARTIFACTS
    run = mlflow_client(server.url).get_run(rec["id"])
    assert run.info.status == "FINISHED" and run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert run.data.metrics["IC"] == rec["metrics"]["IC"]
