"""Reliability acceptance: stress, kill -9 and signals through tools/stress.py; locks; stale runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from optional_support import requires

from litexp import FileExpManager, LockTimeoutError, QlibRecorder
from litexp.store import FileStore
from litexp.store.file.locks import SOFT_LOCK_FILE_NAME, SoftLock, StoreLock, is_network_fs, lock_mode

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools")


def test_stress_kill_and_signal_acceptance(tmp_path):
    requires("mlflow", "the stress tool checks every store with MLflow's reader")
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(TOOLS, "stress.py"),
            "--procs",
            "16",
            "--runs",
            "50",
            "--points",
            "200",
            "--kills",
            "50",
            "--store",
            str(tmp_path / "stores"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    s, k = figures["stress"], figures["kill"]
    assert s["experiments"] == 1 and s["runs"] == 800 and s["finished"] == 800
    assert s["points"] == 16 * 50 * 200 * 2 and s["mlflow_reader"] == "ok"
    assert k["kills"] == 50 and k["mlflow_checks"] == 50 and k["killed_mid_run"] > 0
    assert k["marked_killed"] == k["killed_mid_run"]
    assert figures["signal"]["failures"] == []


def test_network_fs_detection():
    mounts = [("/", "ext4"), ("/shared", "nfs4"), ("/scratch", "lustre"), ("/home/u/fuse", "fuse.sshfs")]
    assert is_network_fs("/shared/proj/mlruns", mounts)
    assert is_network_fs("/scratch/x", mounts)
    assert is_network_fs("/home/u/fuse/a", mounts)
    assert not is_network_fs("/sharedother/x", mounts)
    assert not is_network_fs("/tmp", mounts)


def test_lock_mode_override(tmp_path, monkeypatch):
    monkeypatch.setenv("LITEXP_LOCK_MODE", "soft")
    assert lock_mode(str(tmp_path)) == "soft"
    monkeypatch.setenv("LITEXP_LOCK_MODE", "fcntl")
    assert lock_mode(str(tmp_path)) == "fcntl"
    monkeypatch.setenv("LITEXP_LOCK_MODE", "bogus")
    with pytest.raises(ValueError, match="LITEXP_LOCK_MODE"):
        lock_mode(str(tmp_path))


def test_soft_lock_store_works_and_leaves_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("LITEXP_LOCK_MODE", "soft")
    r = QlibRecorder(FileExpManager("file:" + str(tmp_path / "s"), "Experiment"))
    with r.start(experiment_name="e"):
        r.log_metrics(x=1)
    assert not (tmp_path / "s" / SOFT_LOCK_FILE_NAME).exists()


def test_soft_lock_timeout_names_file(tmp_path):
    path = str(tmp_path / SOFT_LOCK_FILE_NAME)
    holder = SoftLock(path, timeout=5)
    holder.acquire()
    with pytest.raises(LockTimeoutError, match=SOFT_LOCK_FILE_NAME + ".*delete that file"):
        SoftLock(path, timeout=0.2).acquire()
    holder.release()
    SoftLock(path, timeout=0.2).acquire()


def test_soft_lock_of_dead_process_is_taken_over(tmp_path):
    path = tmp_path / SOFT_LOCK_FILE_NAME
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path.write_text(f"{socket.gethostname()} {dead.stdout.strip()} 0 token\n")
    lock = SoftLock(str(path), timeout=2)
    lock.acquire()
    assert "token" not in path.read_text()
    lock.release()
    assert not path.exists()


def test_old_soft_lock_from_other_host_is_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("LITEXP_LOCK_STALE_AFTER", "1")
    path = tmp_path / SOFT_LOCK_FILE_NAME
    path.write_text("some-other-host 12345 0 token\n")
    old = time.time() - 10
    os.utime(path, (old, old))
    SoftLock(str(path), timeout=2).acquire()


def test_fcntl_lock_timeout_message(tmp_path, monkeypatch):
    monkeypatch.setenv("LITEXP_LOCK_MODE", "fcntl")
    held = StoreLock(str(tmp_path), timeout=5)
    with held:
        code = (
            "import sys\nfrom litexp.store.file.locks import StoreLock\nfrom litexp import LockTimeoutError\n"
            "try:\n    StoreLock(sys.argv[1], timeout=0.2).__enter__()\nexcept LockTimeoutError as e:\n    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True).stdout
    assert ".litexp.lock" in out and "delete that file" in out


def test_stale_detection_of_dead_process(tmp_path):
    store_path = str(tmp_path / "s")
    code = (
        "import sys, os\nfrom litexp import R\nR.set_uri(sys.argv[1])\nR.start_exp(experiment_name='e')\n"
        "R.log_metrics(x=1.0)\nR.get_recorder().flush()\nprint(R.get_recorder().id, flush=True)\nos._exit(0)\n"
    )
    rid = subprocess.run([sys.executable, "-c", code, store_path], capture_output=True, text=True).stdout.strip()
    manager = FileExpManager("file:" + store_path, "Experiment")
    exp = manager.get_exp(experiment_name="e", create=False)
    stale = exp.list_stale_recorders()
    assert list(stale) == [rid] and "is gone" in stale[rid]
    assert manager.end_stale_recorders() == stale
    run = FileStore(store_path).get_run(rid)
    assert run.status == "KILLED" and run.end_time is not None
    assert exp.list_stale_recorders() == {}


def test_live_run_is_not_stale_and_heartbeat_refreshes(uri, monkeypatch):
    monkeypatch.setenv("LITEXP_HEARTBEAT_INTERVAL", "0.05")
    r = QlibRecorder(FileExpManager(uri, "Experiment"))
    with r.start(experiment_name="e") as exp:
        rec = r.get_recorder()
        first = rec.store.read_heartbeat(rec.id)
        time.sleep(0.3)
        second = rec.store.read_heartbeat(rec.id)
        assert second.last_beat_ms > first.last_beat_ms and second.pid == os.getpid()
        assert exp.list_stale_recorders(max_age=60) == {}
    assert rec.store.read_heartbeat(rec.id) is None


def test_old_heartbeat_from_other_host_is_stale(uri):
    r = QlibRecorder(FileExpManager(uri, "Experiment"))
    with r.start(experiment_name="e") as exp:
        rec = r.get_recorder()
        path = os.path.join(rec.get_local_dir(), ".litexp-heartbeat")
        with open(path, "w") as fh:
            fh.write("other-host 1 - -\n")
        old = time.time() - 1000
        os.utime(path, (old, old))
        rec._writer.heartbeat_interval = 3600
        assert "last heartbeat" in exp.list_stale_recorders(max_age=300)[rec.id]


def test_runs_without_heartbeat_only_with_include_unknown(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "mlflow-made", "u", int((time.time() - 7200) * 1000))
    manager = FileExpManager("file:" + str(tmp_path / "s"), "Experiment")
    e = manager.get_exp(experiment_name="e", create=False)
    assert e.list_stale_recorders() == {}
    assert run.run_id in e.list_stale_recorders(include_unknown=True)


def test_two_processes_resume_and_end_same_run(tmp_path):
    store_path = str(tmp_path / "s")
    r = QlibRecorder(FileExpManager("file:" + store_path, "Experiment"))
    with r.start(experiment_name="e"):
        rid = r.get_recorder().id
    code = (
        "import sys\nfrom litexp import R\nR.set_uri(sys.argv[1])\n"
        "for i in range(20):\n"
        "    with R.start(experiment_name='e', recorder_id=sys.argv[2], resume=True):\n"
        "        R.log_metrics(step=i, **{'w' + sys.argv[3]: float(i)})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, store_path, rid, str(w)]) for w in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    run = FileStore(store_path).get_run(rid)
    assert run.status == "FINISHED" and run.end_time is not None
    assert run.metrics == {"w0": 19.0, "w1": 19.0}
