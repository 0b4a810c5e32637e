"""``litexp push`` to and ``litexp pull`` from a real ``mlflow server`` (SQLite, proxied artifacts),
run where mlflow cannot be imported; ``MlflowClient`` reads the results."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict

from interop_support import mlflow_dump, mlflow_env, write_litexp_store
from rest_support import comparable, differences
from server_support import mlflow_client, rest, run_without_mlflow, start_without_mlflow

PUSH = """
import litexp
report(vars(litexp.push(SOURCE, TARGET, progress=None)))
"""


def _push(source: str, target: str, tmp: Path) -> Dict[str, Any]:
    return run_without_mlflow(
        f"SOURCE = {source!r}\nTARGET = {target!r}\n" + PUSH, {"LITEXP_SPOOL_DIR": str(tmp / "spool")}
    )


def _file_view(root: Path) -> Dict[str, Any]:
    import os

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return mlflow_dump.dump_with_client(MlflowClient(tracking_uri=root.as_uri()))


def _times(dump: Dict[str, Any]) -> Dict[str, Any]:
    return {r["info"]["run_name"]: (r["info"]["start_time"], r["info"]["end_time"]) for r in dump["runs"]}


def _active_only(view: Dict[str, Any], dump: Dict[str, Any]) -> Dict[str, Any]:
    deleted = {e["name"] for e in dump["experiments"] if e["lifecycle_stage"] == "deleted"}
    return {
        k: v
        for k, v in view.items()
        if not any(k in (f"experiment {d}",) or k.startswith(f"run {d}/") for d in deleted)
    }


def test_push_then_push_again_then_pull(fresh_sqlite_server: Any, tmp_path: Path) -> None:
    server = fresh_sqlite_server
    store = write_litexp_store(tmp_path / "src")
    source_dump = _file_view(store.root)

    first = _push(store.uri, server.url, tmp_path)
    assert first["failed"] == {} and first["runs_created"] == first["runs_seen"] >= 10
    server_dump = mlflow_dump.dump_with_client(mlflow_client(server.url))
    expected = _active_only(comparable(source_dump, server=False), source_dump)
    problems = differences(expected, comparable(server_dump, server=True))
    assert problems == [], "\n".join(problems)
    assert {k: v for k, v in _times(server_dump).items()} == {
        k: v for k, v in _times(source_dump).items() if k != "run of deleted experiment"
    }

    calls = server.log.read_text(errors="replace").count("runs/log-batch")
    again = _push(store.uri, server.url, tmp_path)
    assert again["runs_unchanged"] == first["runs_seen"] and again["points"] == 0 and again["runs_created"] == 0
    assert server.log.read_text(errors="replace").count("runs/log-batch") == calls
    assert comparable(mlflow_dump.dump_with_client(mlflow_client(server.url)), server=True) == comparable(
        server_dump, server=True
    )

    laptop = tmp_path / "laptop"
    pulled = _push(server.url, "file:" + str(laptop), tmp_path)
    assert pulled["failed"] == {} and pulled["runs_created"] == first["runs_seen"]
    problems = differences(comparable(server_dump, server=True), comparable(_file_view(laptop), server=True))
    assert problems == [], "\n".join(problems)


def test_a_grown_run_sends_only_the_new_point(sqlite_server: Any, tmp_path: Path) -> None:
    code = """
    import litexp
    from litexp import FileExpManager, QlibRecorder
    R = QlibRecorder(FileExpManager(SOURCE, "Experiment"))
    with R.start(experiment_name="grow"):
        for i in range(50):
            R.log_metrics(step=i, loss=float(i))
        run_id = R.get_recorder().id
    first = litexp.push(SOURCE, TARGET, progress=None)
    with R.start(experiment_name="grow", recorder_id=run_id, resume=True):
        R.log_metrics(step=50, loss=50.0)
    second = litexp.push(SOURCE, TARGET, progress=None)
    report({"first": vars(first), "second": vars(second), "run_id": run_id})
    """
    source = "file:" + str(tmp_path / "src")
    result = run_without_mlflow(
        f"SOURCE = {source!r}\nTARGET = {sqlite_server.url!r}\n" + textwrap.dedent(code),
        {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")},
    )
    assert result["first"]["points"] == 50
    assert (result["second"]["points"], result["second"]["runs_updated"]) == (1, 1)
    client = mlflow_client(sqlite_server.url)
    exp = client.get_experiment_by_name("grow")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["litexp.source"].endswith(" " + result["run_id"])
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [
        (i, float(i)) for i in range(51)
    ]


def _many_runs(root: Path, runs: int, points: int) -> None:
    from litexp import FileExpManager, QlibRecorder

    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment", async_logging=False))
    for r in range(runs):
        with R.start(experiment_name="many", recorder_name=f"run {r}"):
            R.log_params(r=r)
            R.log_metrics(step=0, **{f"m{k}": float(k) for k in range(points // 10)})
            for i in range(1, 10):
                R.log_metrics(step=i, **{f"m{k}": float(k + i) for k in range(points // 10)})


def test_push_killed_mid_way_then_run_again_copies_each_point_once(fresh_sqlite_server: Any, tmp_path: Path) -> None:
    server = fresh_sqlite_server
    _many_runs(tmp_path / "src", runs=200, points=50)
    source = "file:" + str(tmp_path / "src")
    proc = start_without_mlflow(
        f"SOURCE = {source!r}\nTARGET = {server.url!r}\n" + PUSH,
        {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")},
        tmp=tmp_path / "child",
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            status, body = rest(
                f"{server.url}/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"], "max_results": 1000}
            )
            if status == 200 and len(body.get("runs", [])) >= 30:
                break
            assert proc.poll() is None, proc.output_tail()
            time.sleep(0.05)
    finally:
        proc.kill_group()  # kill -9 mid-push
    status, body = rest(f"{server.url}/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"], "max_results": 1000})
    assert 30 <= len(body["runs"]) < 200, "the push was not stopped mid-way"

    again = _push(source, server.url, tmp_path)
    assert again["failed"] == {}
    client = mlflow_client(server.url)
    runs = client.search_runs(["1"], max_results=1000)
    origins = [r.data.tags["litexp.source"] for r in runs]
    assert len(runs) == 200 and len(set(origins)) == 200
    for run in runs:
        assert run.info.status == "FINISHED" and len(run.data.metrics) == 5
        for key in run.data.metrics:
            assert len(client.get_metric_history(run.info.run_id, key)) == 10, (run.info.run_name, key)


def test_a_run_that_cannot_be_copied_is_reported_and_the_rest_goes_on(sqlite_server: Any, tmp_path: Path) -> None:
    _many_runs(tmp_path / "src", runs=3, points=10)
    artifacts = next(p for p in sorted((tmp_path / "src").rglob("artifacts")) if p.is_dir())
    (artifacts / "model.pkl").symlink_to(tmp_path / "gone.pkl")  # an artifact whose file is gone
    env = dict(mlflow_env(), LITEXP_SPOOL_DIR=str(tmp_path / "spool"))
    done = subprocess.run(
        [sys.executable, "-m", "litexp", "push", "--uri", str(tmp_path / "src"), "--to", sqlite_server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "1 failed" in done.stderr and "model.pkl" in done.stderr and "Traceback" not in done.stderr
    client = mlflow_client(sqlite_server.url)
    exp = client.get_experiment_by_name("many")
    assert len(client.search_runs([exp.experiment_id])) >= 2
