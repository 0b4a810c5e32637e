"""The core scenario logged through litexp (mlflow hidden) to a real ``mlflow server`` reads back,
through ``MlflowClient``, equal to the same scenario logged to a file store; searches, artifacts
and the CLI give the same answers on both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
from interop_support import mlflow_dump, mlflow_env
from rest_support import comparable, differences, log_scenario
from server_support import mlflow_client


@pytest.fixture(scope="module")
def logged(
    sqlite_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any], Path]]:
    """The scenario logged to a file store and to the server: (file-side report, server-side report, store)."""
    tmp = tmp_path_factory.mktemp("core")
    root = tmp / "mlruns"
    file_side = log_scenario("file:" + str(root), tmp / "file")
    server_side = log_scenario(sqlite_server.url, tmp / "server")
    yield file_side, server_side, root


def test_mlflow_client_reads_the_server_equal_to_the_file_store(logged: Any, sqlite_server: Any) -> None:
    _, _, root = logged
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    expected = comparable(mlflow_dump.dump_with_client(MlflowClient(tracking_uri=root.as_uri())), server=False)
    actual = comparable(mlflow_dump.dump_with_client(mlflow_client(sqlite_server.url)), server=True)
    problems = differences(expected, actual)
    assert problems == [], "\n".join(problems)
    assert "run interop main/parent run" in actual and len(actual) >= 12


def test_ended_runs_keep_no_heartbeat(logged: Any, sqlite_server: Any) -> None:
    _, server_side, _ = logged
    client = mlflow_client(sqlite_server.url)
    for name, run_id in server_side["runs"].items():
        tags = client.get_run(run_id).data.tags
        if name != "running run":
            assert "litexp.heartbeat" not in tags, name


def test_searches_answer_like_the_file_store(logged: Any) -> None:
    file_side, server_side, _ = logged
    assert server_side["frames"] == file_side["frames"]
    assert any(f["names"] for f in server_side["frames"][8:]), "the extension searches found nothing"


def test_artifacts_round_trip(logged: Any, sqlite_server: Any, tmp_path: Path) -> None:
    file_side, server_side, _ = logged
    assert (
        server_side["loaded"]
        == file_side["loaded"]
        == {"pred": {"a": 1}, "params.pkl": [1, 2], "objects/nested/model": {"w": [0.5]}}
    )
    assert server_side["artifacts"] == file_side["artifacts"]
    local = Path(server_side["local"])
    assert (local / "summary.txt").read_text() == "summary\n"
    assert (local / "sub" / "detail.txt").read_text() == "detail\n"
    path = mlflow_client(sqlite_server.url).download_artifacts(
        server_side["runs"]["parent run"], "report", str(tmp_path)
    )
    assert sorted(p.name for p in Path(path).rglob("*")) == ["detail.txt", "empty.txt", "sub", "summary.txt"]


def test_recorders_listed_like_the_file_store(logged: Any) -> None:
    file_side, server_side, _ = logged
    assert len(server_side["recorders"]) == len(file_side["recorders"])


def test_cli_reads_the_server(logged: Any, sqlite_server: Any, tmp_path: Path) -> None:
    env = dict(mlflow_env(), LITEXP_SPOOL_DIR=str(tmp_path / "spool"))
    exps = subprocess.run(
        [sys.executable, "-m", "litexp", "experiments", "--uri", sqlite_server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert exps.returncode == 0, exps.stderr
    assert "interop main" in exps.stdout and "interop second" in exps.stdout
    runs = subprocess.run(
        [
            sys.executable,
            "-m",
            "litexp",
            "runs",
            "interop main",
            "--uri",
            sqlite_server.url,
            "--filter",
            "metrics.loss < 0.5 OR params.child_param = 'c'",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert runs.returncode == 0, runs.stderr
    assert "parent run" in runs.stdout and "child run" in runs.stdout
    stale = subprocess.run(
        [sys.executable, "-m", "litexp", "stale", "--uri", sqlite_server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert stale.returncode == 0, stale.stderr
