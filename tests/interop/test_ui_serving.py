"""``litexp._ui.ui_main``: serve a store with MLflow's UI, or print how to open it.

Each case runs ``litexp ui`` (the command's ``main``) in a child Python, with
MLflow importable or hidden (``sys.modules['mlflow'] = None``).
"""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List, Optional

from optional_support import requires

mlflow = requires("mlflow", "`litexp ui` starts MLflow's UI server")  # noqa: F841
import pytest
from interop_support import api_url, free_port, http_json, mlflow_env, stop_process_group, wait_for_http

from litexp import FileExpManager, QlibRecorder

HIDE_MLFLOW = "import sys; sys.modules['mlflow'] = None; "
STOP_TIMEOUT = 90


def _ui_script(store: Optional[str], port: int, hide_mlflow: bool = False) -> List[str]:
    """``litexp ui --uri STORE --port PORT`` through the command's entry point (in a child
    Python, so that MLflow can be hidden from it)."""
    argv = ["ui"] + (["--uri", store] if store is not None else []) + ["--port", str(port), "--host", "127.0.0.1"]
    code = (HIDE_MLFLOW if hide_mlflow else "import sys; ") + f"from litexp.cli import main; sys.exit(main({argv!r}))"
    return [sys.executable, "-c", code]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "project" / "mlruns"
    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    with R.start(experiment_name="ui experiment", recorder_name="ui run"):
        R.log_params(lr=0.05)
        R.log_metrics(step=0, loss=0.5)
    return root


def test_without_mlflow_prints_both_ways(store: Path) -> None:
    done = subprocess.run(_ui_script(str(store), 5123, hide_mlflow=True), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "MLflow is not installed" in out
    db = f"sqlite:///{store.parent}/mlflow.db"
    assert (
        f"MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {store.as_uri()} "
        "--host 127.0.0.1 --port 5123 --workers 1"
    ) in out
    assert f"mlflow migrate-filestore --source {store.parent} --target {db}" in out
    assert f"mlflow ui --backend-store-uri {db} --host 127.0.0.1 --port 5123" in out


def _printed(out: str, prefix: str) -> List[str]:
    (line,) = [text.strip() for text in out.splitlines() if text.strip().startswith(prefix)]
    return shlex.split(line)


def test_printed_migrate_command_works(store: Path) -> None:
    """The migration command printed for a store runs, and MLflow reads the result."""
    done = subprocess.run(_ui_script(str(store), 5123, hide_mlflow=True), capture_output=True, text=True, timeout=120)
    argv = _printed(done.stdout, "mlflow migrate-filestore")
    migrated = subprocess.run(
        [sys.executable, "-m", "mlflow", *argv[1:]], capture_output=True, text=True, timeout=300, env=mlflow_env()
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    db_uri = argv[argv.index("--target") + 1]
    from mlflow.tracking import MlflowClient

    names = [e.name for e in MlflowClient(tracking_uri=db_uri).search_experiments()]
    assert "ui experiment" in names


def test_printed_paths_are_quoted(tmp_path: Path) -> None:
    root = tmp_path / "my results" / "mlruns"
    QlibRecorder(FileExpManager("file:" + str(root), "Experiment")).get_exp(experiment_name="x")
    done = subprocess.run(_ui_script(str(root), 5000, hide_mlflow=True), capture_output=True, text=True, timeout=120)
    argv = _printed(done.stdout, "mlflow migrate-filestore")
    assert argv[argv.index("--source") + 1] == str(root.parent)


def test_missing_store_is_an_error(tmp_path: Path) -> None:
    done = subprocess.run(_ui_script(str(tmp_path / "nowhere"), 5000), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no store at" in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_file_uri_is_accepted(store: Path) -> None:
    done = subprocess.run(
        _ui_script("file:" + str(store), 5000, hide_mlflow=True), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert store.as_uri() in done.stdout


def _start_ui(store: Path, port: int, log: Path) -> "subprocess.Popen[Any]":
    with open(log, "wb") as fh:
        return subprocess.Popen(
            _ui_script(str(store), port),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=mlflow_env(),
            start_new_session=True,
        )


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serves_the_store_until_interrupted(store: Path, tmp_path: Path, sig: int) -> None:
    port = free_port()
    log = tmp_path / "ui.log"
    proc = _start_ui(store, port, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, log)
        answer = http_json(api_url(f"http://127.0.0.1:{port}", "experiments/search"), {"max_results": 100})
        assert "ui experiment" in [e["name"] for e in answer["experiments"]]
        proc.send_signal(sig)
        code = proc.wait(timeout=STOP_TIMEOUT)
        assert code == 130, log.read_text(errors="replace")[-3000:]
        deadline = time.monotonic() + 30
        while not _port_closed(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _port_closed(port), "the MLflow server outlived ui_main"
    finally:
        stop_process_group(proc)


def test_server_exit_code_is_forwarded(store: Path, tmp_path: Path) -> None:
    """ui_main ends with the exit code of ``mlflow ui`` itself: here both try a taken port,
    and ui_main returns whatever the same ``mlflow ui`` command returns on its own."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        log = tmp_path / "ui.log"
        proc = _start_ui(store, port, log)
        direct_cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--backend-store-uri",
            store.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        direct = subprocess.Popen(
            direct_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=mlflow_env(), start_new_session=True
        )
        try:
            code = proc.wait(timeout=180)
            direct_code = direct.wait(timeout=180)
        finally:
            stop_process_group(proc)
            stop_process_group(direct)
    assert "address already in use" in log.read_text(errors="replace")
    assert code == direct_code
