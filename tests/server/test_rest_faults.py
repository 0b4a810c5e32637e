"""Faults against a real ``mlflow server``: a server killed mid-run, a server that stays away, a host
that does not answer, error answers, a cloud artifact store, and a logging process killed -9.

The litexp side always runs in a Python where mlflow cannot be imported."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

from interop_support import free_port, mlflow_env
from server_support import mlflow_client, rest, run_without_mlflow, start_without_mlflow

FAST_RETRIES = {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0"}


def _env(tmp: Path, **extra: str) -> Dict[str, str]:
    return {"LITEXP_SPOOL_DIR": str(tmp / "spool"), **extra}


def _wait_for(path: Path, proc: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the litexp process ended early:\n{proc.output_tail()}"
        assert time.monotonic() < deadline, f"{path.name} never appeared:\n{proc.output_tail()}"
        time.sleep(0.05)


def _history(url: str, run_id: str, key: str) -> list:
    return [(m.step, m.value) for m in mlflow_client(url).get_metric_history(run_id, key)]


def test_server_killed_mid_run_and_restarted_every_point_arrives_once(fresh_sqlite_server: Any, tmp_path: Path) -> None:
    server = fresh_sqlite_server
    code = f"""
    import os, signal, time
    from pathlib import Path
    from litexp import R
    R.set_uri({server.url!r})
    with R.start(experiment_name="outage"):
        run_id = R.get_recorder().id
        for i in range(1000):
            R.log_metrics(step=i, loss=float(i))
        R.log_params(phase="before")
        R.get_recorder().flush()
        os.killpg({server.pid}, signal.SIGKILL)  # kill -9 the server mid-run
        time.sleep(0.5)
        for i in range(1000, 3000):
            R.log_metrics(step=i, loss=float(i))
        R.set_tags(during="outage")
        time.sleep(1.0)  # the writer thread meets the outage and spools
        spooled = sorted(os.listdir({str(tmp_path / "spool")!r}))
        Path({str(tmp_path / "outage")!r}).write_text("x")
    report({{"run_id": run_id, "spooled": spooled}})
    """
    proc = start_without_mlflow(code, _env(tmp_path, **FAST_RETRIES), tmp=tmp_path / "child")
    try:
        _wait_for(tmp_path / "outage", proc)
        server.restart()
        assert proc.wait(timeout=240) == 0, proc.output_tail()
    finally:
        proc.kill_group()
    result = proc.report()
    assert not list((tmp_path / "spool").rglob("*.jsonl")), "the spool was not emptied"
    assert result["spooled"], "nothing was spooled during the outage"
    run = mlflow_client(server.url).get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["phase"] == "before" and run.data.tags["during"] == "outage"
    assert "litexp.heartbeat" not in run.data.tags
    assert _history(server.url, result["run_id"], "loss") == [(i, float(i)) for i in range(3000)]


def test_server_still_away_at_end_run_keeps_everything_in_the_spool(fresh_sqlite_server: Any, tmp_path: Path) -> None:
    server = fresh_sqlite_server
    code = f"""
    import os, signal, time
    from litexp import R, UndeliveredError
    R.set_uri({server.url!r})
    try:
        with R.start(experiment_name="away"):
            run_id = R.get_recorder().id
            R.log_metrics(step=0, loss=0.0)
            R.get_recorder().flush()
            os.killpg({server.pid}, signal.SIGKILL)
            time.sleep(0.5)
            for i in range(1, 500):
                R.log_metrics(step=i, loss=float(i))
    except UndeliveredError as exc:
        report({{"run_id": run_id, "message": str(exc), "points": exc.points, "path": exc.spool_path}})
    """
    env = _env(tmp_path, MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", **FAST_RETRIES)
    result = run_without_mlflow(code, env)
    assert result is not None, "end_run did not raise UndeliveredError"
    assert result["points"] == 499
    assert Path(result["path"]).is_file() and result["path"] in result["message"]
    assert "499 metric point(s) and the status FINISHED" in result["message"]
    assert "litexp spool --send" in result["message"] and server.url in result["message"]

    server.restart()
    listing = subprocess.run(
        [sys.executable, "-m", "litexp", "spool", "--format", "json"],
        capture_output=True,
        text=True,
        env=dict(mlflow_env(), **env),
        timeout=120,
    )
    assert [(e["run_id"], e["points"]) for e in json.loads(listing.stdout)] == [(result["run_id"], 499)]
    sent = run_without_mlflow("from litexp.__main__ import main\nreport(main(['spool', '--send']))", env)
    assert sent == 0
    run = mlflow_client(server.url).get_run(result["run_id"])
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert _history(server.url, result["run_id"], "loss") == [(i, float(i)) for i in range(500)]
    assert not Path(result["path"]).exists()


def test_unreachable_host_fails_within_the_timeout_naming_the_uri(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    closed = f"http://127.0.0.1:{free_port()}"
    quiet = f"http://127.0.0.1:{silent.getsockname()[1]}"
    code = f"""
    import time
    from litexp import R, LitexpError, ServerUnreachableError
    answers = {{}}
    for uri in ({closed!r}, {quiet!r}):
        began = time.monotonic()
        try:
            with R.start(experiment_name="x", uri=uri):
                pass
        except ServerUnreachableError as exc:
            answers[uri] = [type(exc).__name__, str(exc), time.monotonic() - began]
    report(answers)
    """
    env = _env(tmp_path, MLFLOW_HTTP_REQUEST_TIMEOUT="2", MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", **FAST_RETRIES)
    try:
        answers = run_without_mlflow(code, env)
    finally:
        silent.close()
    for uri in (closed, quiet):
        name, message, seconds = answers[uri]
        assert uri in message and "MLFLOW_HTTP_REQUEST_TIMEOUT" in message
        assert seconds < 2 * 2 + 1 + 5  # two tries of 2 s, one backoff of 0 s, and slack
    assert "timed out" in answers[quiet][1]
    assert not (tmp_path / "spool").exists()


def test_server_errors_are_litexp_errors_with_the_servers_message(sqlite_server: Any, tmp_path: Path) -> None:
    code = f"""
    from litexp import R, ExpAlreadyExistError, InvalidInputError, NotFoundError, LitexpError
    R.set_uri({sqlite_server.url!r})
    answers = {{}}
    def catch(name, call):
        try:
            call()
        except LitexpError as exc:
            answers[name] = [[c.__name__ for c in type(exc).__mro__], str(exc)]
    R.exp_manager.create_exp("taken")
    catch("create twice", lambda: R.exp_manager.create_exp("taken"))
    catch("missing experiment", lambda: R.get_exp(experiment_id="987654", create=False))
    catch("missing recorder", lambda: R.get_recorder(recorder_id="0" * 32, experiment_name="taken"))
    store = R.exp_manager.writable_store
    with R.start(experiment_name="taken"):
        run_id = R.get_recorder().id
        R.log_params(lr="0.1")
    catch("param changed", lambda: store.log_batch(run_id, params={{"lr": "0.2"}}))
    catch("missing metric", lambda: store.get_metric_history(run_id, "nothing"))
    report(answers)
    """
    answers = run_without_mlflow(code, _env(tmp_path))
    assert "ExpAlreadyExistError" in answers["create twice"][0] and "taken" in answers["create twice"][1]
    for name in ("missing experiment", "missing recorder", "missing metric"):
        assert "NotFoundError" in answers[name][0] and "ValueError" in answers[name][0], name
    classes, message = answers["param changed"]
    assert "InvalidInputError" in classes and "lr" in message and sqlite_server.url in message
    assert "Traceback" not in message


def test_artifacts_on_a_cloud_store_are_refused_with_what_to_do(sqlite_server: Any, tmp_path: Path) -> None:
    status, body = rest(
        f"{sqlite_server.url}/api/2.0/mlflow/experiments/create",
        {"name": "on s3", "artifact_location": "s3://bucket/litexp"},
    )
    assert status == 200, body
    code = f"""
    from litexp import R, LitexpError
    R.set_uri({sqlite_server.url!r})
    with R.start(experiment_name="on s3"):
        R.log_metrics(step=0, ic=0.1)
        try:
            R.save_objects(pred=[1])
        except LitexpError as exc:
            report(str(exc))
    """
    message = run_without_mlflow(code, _env(tmp_path))
    assert "s3://bucket/litexp" in message and "--serve-artifacts" in message


def test_a_killed_logging_process_is_found_stale_and_ended(sqlite_server: Any, tmp_path: Path) -> None:
    code = f"""
    import time
    from pathlib import Path
    from litexp import R
    R.set_uri({sqlite_server.url!r})
    R.start_exp(experiment_name="stale on server")
    R.log_metrics(step=0, loss=1.0)
    R.get_recorder().flush()
    report(R.get_recorder().id)
    Path({str(tmp_path / "started")!r}).write_text("x")
    time.sleep(600)
    """
    proc = start_without_mlflow(code, _env(tmp_path), tmp=tmp_path / "child")
    try:
        _wait_for(tmp_path / "started", proc)
        run_id = proc.report()
    finally:
        proc.kill_group()  # kill -9: no end_run, no atexit
    assert mlflow_client(sqlite_server.url).get_run(run_id).info.status == "RUNNING"
    check = f"""
    from litexp import R
    R.set_uri({sqlite_server.url!r})
    exp = R.get_exp(experiment_name="stale on server", create=False)
    found = exp.list_stale_recorders()
    report({{"found": found, "ended": exp.end_stale_recorders()}})
    """
    result = run_without_mlflow(check, _env(tmp_path))
    assert list(result["found"]) == [run_id] and "is gone" in result["found"][run_id]
    assert list(result["ended"]) == [run_id]
    run = mlflow_client(sqlite_server.url).get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time is not None
    assert "litexp.heartbeat" not in run.data.tags


def test_ten_thousand_calls_reach_the_server_in_few_requests(sqlite_server: Any, tmp_path: Path) -> None:
    code = f"""
    from litexp import R
    R.set_uri({sqlite_server.url!r})
    with R.start(experiment_name="many calls"):
        run_id = R.get_recorder().id
        for i in range(10000):
            R.log_metrics(step=i, loss=i / 10000)
    report(run_id)
    """
    before = sqlite_server.log.read_text(errors="replace").count("runs/log-batch")
    run_id = run_without_mlflow(code, _env(tmp_path))
    requests = sqlite_server.log.read_text(errors="replace").count("runs/log-batch") - before
    assert len(_history(sqlite_server.url, run_id, "loss")) == 10000
    assert requests <= 40, f"{requests} log-batch requests for 10,000 calls"


def test_a_batch_sent_twice_changes_nothing_on_the_server(sqlite_server: Any, tmp_path: Path) -> None:
    """What the spool relies on: MLflow's SQL store keeps one row per identical point, takes the same
    param again, and overwrites tags; deleted and restored runs and experiments come back whole."""
    code = f"""
    from litexp import R
    R.set_uri({sqlite_server.url!r})
    store = R.exp_manager.writable_store
    with R.start(experiment_name="twice"):
        run_id = R.get_recorder().id
    points = [("loss", float(i), 1700000000000 + i, i) for i in range(1500)]
    for _ in range(2):  # the answer to the first request was lost: the same batch again
        store.log_batch(run_id, points, {{"lr": "0.1"}}, {{"t": "1"}})
    store.flush_run(run_id)
    exp_id = R.get_exp(experiment_name="twice", create=False).id
    store.delete_run(run_id)
    store.delete_experiment(exp_id)
    store.restore_experiment(exp_id)
    store.restore_run(run_id)
    report({{"run_id": run_id, "experiment": store.get_experiment(exp_id).lifecycle_stage,
             "run": store.get_run(run_id).lifecycle_stage}})
    """
    result = run_without_mlflow(code, _env(tmp_path))
    assert result["experiment"] == result["run"] == "active"
    run = mlflow_client(sqlite_server.url).get_run(result["run_id"])
    assert run.info.lifecycle_stage == "active" and run.data.params["lr"] == "0.1" and run.data.tags["t"] == "1"
    assert _history(sqlite_server.url, result["run_id"], "loss") == [(i, float(i)) for i in range(1500)]


def test_an_idle_connection_closed_by_the_server_is_not_an_outage(sqlite_server: Any, tmp_path: Path) -> None:
    """uvicorn closes idle keep-alive connections after 5 s; the next batch must still go straight out."""
    code = f"""
    import time
    from litexp import R
    R.set_uri({sqlite_server.url!r})
    with R.start(experiment_name="idle"):
        run_id = R.get_recorder().id
        R.log_metrics(step=0, loss=0.0)
        R.get_recorder().flush()
        time.sleep(6.5)
        R.log_metrics(step=1, loss=1.0)
        R.get_recorder().flush()
        store = R.exp_manager.writable_store
        report({{"run_id": run_id, "down": store.delivery.is_down(), "spooled": store.delivery.spool.has(run_id)}})
    """
    result = run_without_mlflow(code, _env(tmp_path, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0"))
    assert result["down"] is False and result["spooled"] is False
    assert not (tmp_path / "spool").exists(), "a batch was spooled although the server was up"
    assert _history(sqlite_server.url, result["run_id"], "loss") == [(0, 0.0), (1, 1.0)]


def test_a_wrong_path_prefix_says_there_is_no_mlflow_api(sqlite_server: Any, tmp_path: Path) -> None:
    code = f"""
    from litexp import R, LitexpError
    try:
        R.set_uri({sqlite_server.url + "/not-mlflow"!r})
        R.get_exp(experiment_name="x", create=False)
    except LitexpError as exc:
        report([type(exc).__name__, str(exc)])
    """
    name, message = run_without_mlflow(code, _env(tmp_path))
    assert name == "ServerError" and "no MLflow API" in message and "/not-mlflow" in message


def test_an_entry_mlflow_refuses_leaves_the_spool_but_is_kept_with_the_answer(
    sqlite_server: Any, tmp_path: Path
) -> None:
    code = f"""
    import json, os
    from litexp import R, InvalidInputError
    R.set_uri({sqlite_server.url!r})
    store = R.exp_manager.writable_store
    with R.start(experiment_name="refused"):
        run_id = R.get_recorder().id
        R.log_params(lr="0.1")
        R.get_recorder().flush()
        spool = store.delivery.spool
        # as if a batch changing the param had been spooled during an outage, then points after it
        spool.append(run_id, {{"batch": {{"params": {{"lr": "0.2"}}}}}})
        spool.append(run_id, {{"batch": {{"metrics": [{{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}}]}}}})
        try:
            store.flush_run(run_id)
        except InvalidInputError as exc:
            message = str(exc)
        store.flush_run(run_id)  # the points after the refused entry still go
        rejected = [json.loads(line) for line in open(os.path.join(spool.folder, run_id + ".rejected.jsonl"))]
        report({{"run_id": run_id, "message": message, "rejected": rejected, "spooled": spool.has(run_id)}})
    """
    result = run_without_mlflow(code, _env(tmp_path))
    assert "lr" in result["message"] and sqlite_server.url in result["message"]
    assert (
        result["rejected"][0]["entry"] == {"batch": {"params": {"lr": "0.2"}}} and "lr" in result["rejected"][0]["why"]
    )
    assert result["spooled"] is False
    run = mlflow_client(sqlite_server.url).get_run(result["run_id"])
    assert run.data.params["lr"] == "0.1" and run.data.metrics["m"] == 1.0
