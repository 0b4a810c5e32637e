"""Basic auth on ``mlflow server --app-name basic-auth``, and 16 processes get-or-creating one
experiment on a server. The litexp side runs where mlflow cannot be imported."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from server_support import AUTH_ADMIN, create_user, mlflow_client, run_without_mlflow, start_without_mlflow

LOG_ONE_RUN = """
from litexp import R, LitexpError
try:
    with R.start(experiment_name="guarded", uri=URI):
        R.log_metrics(step=0, ic=0.5)
        R.log_params(model="lgb")
        run_id = R.get_recorder().id
    R.set_uri(URI)
    rec = R.get_recorder(recorder_id=run_id, experiment_name="guarded")
    report({"ok": run_id, "metrics": rec.list_metrics(), "params": rec.list_params()})
except LitexpError as exc:
    report({"error": [c.__name__ for c in type(exc).__mro__], "message": str(exc)})
"""


def _run(url: str, tmp: Path, **env: str) -> Any:
    return run_without_mlflow(f"URI = {url!r}\n" + LOG_ONE_RUN, {"LITEXP_SPOOL_DIR": str(tmp / "spool"), **env})


def test_basic_auth_credentials_are_sent_and_refusals_explained(auth_server: Any, tmp_path: Path) -> None:
    anonymous = _run(auth_server.url, tmp_path, MLFLOW_TRACKING_USERNAME="", MLFLOW_TRACKING_PASSWORD="")
    assert "AuthError" in anonymous["error"] and "PermissionError" in anonymous["error"]
    assert "401" in anonymous["message"] and "MLFLOW_TRACKING_USERNAME" in anonymous["message"]
    assert "MLFLOW_TRACKING_TOKEN" in anonymous["message"] and auth_server.url in anonymous["message"]

    wrong = _run(auth_server.url, tmp_path, MLFLOW_TRACKING_USERNAME=AUTH_ADMIN[0], MLFLOW_TRACKING_PASSWORD="wrong")
    assert "AuthError" in wrong["error"]

    create_user(auth_server, "researcher", "researcher-pw-1")
    ok = _run(
        auth_server.url, tmp_path, MLFLOW_TRACKING_USERNAME="researcher", MLFLOW_TRACKING_PASSWORD="researcher-pw-1"
    )
    assert "ok" in ok, ok
    assert ok["metrics"] == {"ic": 0.5} and ok["params"]["model"] == "lgb"
    assert not list((tmp_path / "spool").rglob("*.jsonl"))


def test_sixteen_processes_get_or_create_one_experiment(sqlite_server: Any, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = f"""
    import os, time
    from litexp import R
    while not os.path.exists({str(go)!r}):
        time.sleep(0.01)
    with R.start(experiment_name="raced", uri={sqlite_server.url!r}):
        R.log_metrics(step=0, worker=float(os.getpid()))
        report({{"run_id": R.get_recorder().id, "experiment_id": R.get_exp().id}})
    """
    procs = [
        start_without_mlflow(code, {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}, tmp=tmp_path / f"p{i}")
        for i in range(16)
    ]
    time.sleep(3.0)  # let every interpreter start and wait
    go.write_text("go")
    try:
        for proc in procs:
            assert proc.wait(timeout=300) == 0, proc.output_tail()
    finally:
        for proc in procs:
            proc.kill_group()
    reports = [proc.report() for proc in procs]
    assert len({r["experiment_id"] for r in reports}) == 1
    client = mlflow_client(sqlite_server.url)
    experiments = [e for e in client.search_experiments() if e.name == "raced"]
    assert len(experiments) == 1
    runs = client.search_runs([experiments[0].experiment_id], max_results=100)
    assert sorted(r.info.run_id for r in runs) == sorted(r["run_id"] for r in reports)
    assert all(r.info.status == "FINISHED" and "worker" in r.data.metrics for r in runs)


def test_a_bearer_token_is_sent_as_mlflows_client_sends_it(tmp_path: Path) -> None:
    """``MLFLOW_TRACKING_TOKEN`` goes out as ``Authorization: Bearer``; this listener records it and refuses."""
    import http.server
    import json
    import threading

    seen = []

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"error_code": "UNAUTHENTICATED", "message": "bad token"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.server_address[1]}"
        refused = _run(url, tmp_path, MLFLOW_TRACKING_TOKEN="tok-123", MLFLOW_TRACKING_USERNAME="ignored")
    finally:
        listener.shutdown()
    assert seen and all(h == "Bearer tok-123" for h in seen)
    assert "AuthError" in refused["error"] and "bad token" in refused["message"]


def test_refused_credentials_keep_the_spool_until_they_are_right(auth_server: Any, tmp_path: Path) -> None:
    create_user(auth_server, "writer", "writer-password-1")
    spool = {"LITEXP_SPOOL_DIR": str(tmp_path / "spool"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    good = {**spool, "MLFLOW_TRACKING_USERNAME": "writer", "MLFLOW_TRACKING_PASSWORD": "writer-password-1"}
    code = f"""
    import os
    from litexp import R, UndeliveredError
    try:
        with R.start(experiment_name="rotated", uri={auth_server.url!r}):
            run_id = R.get_recorder().id
            for i in range(100):
                R.log_metrics(step=i, loss=float(i))
            R.get_recorder().flush()
            os.environ["MLFLOW_TRACKING_PASSWORD"] = "changed-on-the-server"  # read at each request
            for i in range(100, 200):
                R.log_metrics(step=i, loss=float(i))
    except UndeliveredError as exc:
        report({{"run_id": run_id, "points": exc.points, "message": str(exc)}})
    """
    result = run_without_mlflow(code, good)
    assert result["points"] == 100 and "401" in result["message"]
    anonymous = run_without_mlflow(
        "import litexp\ntry:\n    litexp.send_spool()\nexcept litexp.UndeliveredError as exc:\n    report(str(exc))\n",
        spool,
    )
    assert "could not be sent" in anonymous
    assert run_without_mlflow("import litexp\nreport(litexp.send_spool())\n", good) == {result["run_id"]: 100}
    client_env = {"MLFLOW_TRACKING_USERNAME": AUTH_ADMIN[0], "MLFLOW_TRACKING_PASSWORD": AUTH_ADMIN[1]}
    import os

    saved = {k: os.environ.get(k) for k in client_env}
    os.environ.update(client_env)
    try:
        client = mlflow_client(auth_server.url)
        run = client.get_run(result["run_id"])
        history = [(m.step, m.value) for m in client.get_metric_history(result["run_id"], "loss")]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert run.info.status == "FINISHED"
    assert history == [(i, float(i)) for i in range(200)]


def _listener(status: int, body: bytes, headers: dict) -> Any:
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_something_that_is_not_mlflow_is_named_as_such(tmp_path: Path) -> None:
    """A login page answering 200, and a redirect, are ServerErrors saying what to check; nothing is spooled."""
    login = _listener(200, b"<html>please log in</html>", {"Content-Type": "text/html"})
    moved = _listener(302, b"", {"Location": "https://elsewhere.example/"})
    try:
        html = _run(f"http://127.0.0.1:{login.server_address[1]}", tmp_path)
        redirect = _run(f"http://127.0.0.1:{moved.server_address[1]}", tmp_path)
    finally:
        login.shutdown()
        moved.shutdown()
    assert "ServerError" in html["error"] and "not MLflow's JSON" in html["message"]
    assert "ServerError" in redirect["error"] and "https://elsewhere.example/" in redirect["message"]
    assert not list((tmp_path / "spool").rglob("*.jsonl"))
