"""``server_support``: each server kind starts, answers REST calls and stops; the SQLite
server survives ``kill -9`` and a restart on its port; basic auth refuses strangers; the
child Python of ``run_without_mlflow`` has no MLflow but has litexp and the test helpers.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from interop_support import api_url
from server_support import (
    AUTH_ADMIN,
    MlflowServer,
    create_user,
    mlflow_client,
    rest,
    run_without_mlflow,
    start_without_mlflow,
)


def _create_experiment(server: MlflowServer, auth=None) -> str:
    name = f"exp-{uuid.uuid4().hex[:8]}"
    status, body = rest(api_url(server.url, "experiments/create"), {"name": name}, auth=auth)
    assert status == 200, body
    return body["experiment_id"]


def _experiment(server: MlflowServer, experiment_id: str, auth=None):
    return rest(api_url(server.url, "experiments/get", experiment_id=experiment_id), auth=auth)


def test_sqlite_server_keeps_data_across_kill_and_restart(fresh_sqlite_server: MlflowServer) -> None:
    server = fresh_sqlite_server
    exp_id = _create_experiment(server)
    port, pid = server.port, server.pid
    server.kill()
    assert not server.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/health", timeout=5)
    server.restart()
    assert (server.port, server.url) == (port, f"http://127.0.0.1:{port}") and server.pid != pid
    status, body = _experiment(server, exp_id)
    assert status == 200 and body["experiment"]["experiment_id"] == exp_id
    assert server.starts == 2 and "start #2" in server.log.read_text()


def test_artifact_proxy_and_error_shapes(sqlite_server: MlflowServer) -> None:
    exp_id = _create_experiment(sqlite_server)
    status, body = rest(api_url(sqlite_server.url, "runs/create"), {"experiment_id": exp_id, "start_time": 1})
    assert status == 200, body
    run_id = body["run"]["info"]["run_id"]
    assert body["run"]["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    base = f"{sqlite_server.url}/api/2.0/mlflow-artifacts/artifacts"
    put = urllib.request.Request(f"{base}/{exp_id}/{run_id}/artifacts/sub/a.txt", data=b"hello", method="PUT")
    with urllib.request.urlopen(put, timeout=30) as resp:
        assert resp.status == 200
    assert (sqlite_server.artifacts / exp_id / run_id / "artifacts" / "sub" / "a.txt").read_bytes() == b"hello"
    assert rest(f"{base}?path={exp_id}/{run_id}/artifacts") == (200, {"files": [{"path": "sub", "is_dir": True}]})
    listed = rest(f"{base}?path={exp_id}/{run_id}/artifacts/sub")
    assert listed == (200, {"files": [{"path": "a.txt", "is_dir": False, "file_size": 5}]})
    assert rest(f"{base}?path={exp_id}/{run_id}/nothing") == (200, {})
    status, error = rest(api_url(sqlite_server.url, "runs/get", run_id="0" * 32))
    assert status == 404 and error["error_code"] == "RESOURCE_DOES_NOT_EXIST", error
    assert error["message"] == f"Run with id={'0' * 32} not found"


def test_mlflow_client_reads_the_server(sqlite_server: MlflowServer) -> None:
    exp_id = _create_experiment(sqlite_server)
    assert mlflow_client(sqlite_server.url).get_experiment(exp_id).experiment_id == exp_id


def test_postgres_server(postgres_server: MlflowServer) -> None:
    assert postgres_server.backend.startswith("postgresql+psycopg2://")
    exp_id = _create_experiment(postgres_server)
    status, body = _experiment(postgres_server, exp_id)
    assert status == 200 and body["experiment"]["artifact_location"] == f"mlflow-artifacts:/{exp_id}"


def test_auth_server_refuses_strangers(auth_server: MlflowServer) -> None:
    url = api_url(auth_server.url, "experiments/search", max_results="5")
    assert rest(url)[0] == 401
    assert rest(url, auth=(AUTH_ADMIN[0], "wrong-password-123"))[0] == 401
    assert rest(url, auth=AUTH_ADMIN)[0] == 200
    user = (f"user-{uuid.uuid4().hex[:6]}", "user-password-123")
    assert create_user(auth_server, *user)["username"] == user[0]
    own = _create_experiment(auth_server, auth=user)
    assert _experiment(auth_server, own, auth=user)[0] == 200
    foreign = _create_experiment(auth_server, auth=AUTH_ADMIN)
    status, _ = rest(
        api_url(auth_server.url, "experiments/update"), {"experiment_id": foreign, "new_name": "x"}, auth=user
    )
    assert status == 403


def test_run_without_mlflow_hides_mlflow() -> None:
    code = """
        import importlib.util, subprocess, sys
        failures = []
        for name in ("mlflow", "mlflow.tracking", "mlflow_skinny"):
            try:
                __import__(name)
            except ImportError as exc:
                failures.append(type(exc).__name__)
        import litexp, interop_support, optional_support
        child = subprocess.run([sys.executable, "-c", "import mlflow"], capture_output=True)
        report({"failures": failures, "spec": importlib.util.find_spec("mlflow") is None,
                "litexp": litexp.__file__, "child": child.returncode})
    """
    result = run_without_mlflow(code)
    assert result["failures"] == ["ModuleNotFoundError"] * 3
    assert result["spec"] is True and result["child"] != 0
    assert result["litexp"].endswith("litexp/__init__.py")
    assert run_without_mlflow("pass") is None
    assert run_without_mlflow("import os; report(os.environ['X'])", env={"X": "y"}) == "y"
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run_without_mlflow("1 / 0")


def test_start_without_mlflow_can_be_killed() -> None:
    proc = start_without_mlflow("import time\nreport('up')\ntime.sleep(600)")
    deadline = time.monotonic() + 60
    while proc.report() is None and time.monotonic() < deadline:
        assert proc.poll() is None, proc.output_tail()
        time.sleep(0.1)
    assert proc.report() == "up"
    proc.kill_group()
    assert proc.returncode == -9 and isinstance(proc, subprocess.Popen)
    assert sys.executable
