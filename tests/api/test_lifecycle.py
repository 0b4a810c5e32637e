"""Run status truth: signals, interpreter exit, background writer flushing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from litexp.store import FileStore


def run_script(tmp_path, body, *, expect_code=None, send=None):
    script = "import os, signal, sys, time\nfrom litexp import R\n" + textwrap.dedent(body)
    store = str(tmp_path / "s")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, store], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if send is not None:
        rid = proc.stdout.readline().strip()
        proc.send_signal(send)
        out, err = proc.communicate(timeout=60)
        out = rid + "\n" + out
    else:
        out, err = proc.communicate(timeout=60)
    if expect_code is not None:
        assert proc.returncode == expect_code, err
    return FileStore(store), out.split()[0] if out.strip() else None, err


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT)])
def test_signal_from_outside_ends_killed_with_flushed_metrics(tmp_path, sig, code):
    store, rid, err = run_script(
        tmp_path,
        """
        with R.start(experiment_name="e", uri=sys.argv[1]):
            for i in range(100):
                R.log_metrics(step=i, x=float(i))
            print(R.get_recorder().id, flush=True)
            while True:
                time.sleep(0.05)
        """,
        expect_code=code,
        send=sig,
    )
    run = store.get_run(rid)
    assert run.status == "KILLED" and run.end_time is not None
    assert len(store.get_metric_history(rid, "x")) == 100


def test_previous_sigterm_handler_runs_and_is_restored(tmp_path):
    store, rid, err = run_script(
        tmp_path,
        """
        seen = []
        def handler(signum, frame):
            seen.append(signum)
        signal.signal(signal.SIGTERM, handler)
        with R.start(experiment_name="e", uri=sys.argv[1]):
            print(R.get_recorder().id, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        assert seen == [signal.SIGTERM], seen
        assert signal.getsignal(signal.SIGTERM) is handler
        """,
        expect_code=0,
    )
    # the run was killed; the handler let the script go on, but the status stays true
    assert store.get_run(rid).status == "KILLED"


def test_handler_restored_after_run(tmp_path):
    run_script(
        tmp_path,
        """
        before = signal.getsignal(signal.SIGTERM)
        with R.start(experiment_name="e", uri=sys.argv[1]):
            assert signal.getsignal(signal.SIGTERM) is not before
        assert signal.getsignal(signal.SIGTERM) is before
        print("x")
        """,
        expect_code=0,
    )


def test_run_left_open_ends_finished_at_exit(tmp_path):
    store, rid, _ = run_script(
        tmp_path,
        """
        R.set_uri(sys.argv[1])
        R.start_exp(experiment_name="e")
        R.log_metrics(step=0, x=1.0)
        print(R.get_recorder().id)
        """,
        expect_code=0,
    )
    run = store.get_run(rid)
    assert run.status == "FINISHED" and run.end_time is not None and run.metrics == {"x": 1.0}


def test_uncaught_exception_outside_with_ends_failed_at_exit(tmp_path):
    store, rid, _ = run_script(
        tmp_path,
        """
        R.set_uri(sys.argv[1])
        R.start_exp(experiment_name="e")
        print(R.get_recorder().id, flush=True)
        raise RuntimeError("boom")
        """,
        expect_code=1,
    )
    assert store.get_run(rid).status == "FAILED"


def test_sync_mode_by_environment(tmp_path, monkeypatch, uri):
    monkeypatch.setenv("LITEXP_SYNC_LOGGING", "1")
    from litexp import FileExpManager, QlibRecorder

    r = QlibRecorder(FileExpManager(uri, "Experiment"))
    with r.start(experiment_name="e"):
        rec = r.get_recorder()
        assert rec.async_logging is False
        r.log_metrics(x=1.0)
        path = os.path.join(rec.get_local_dir(), "metrics", "x")
        assert os.path.getsize(path) > 0  # written at the call, no flush needed


def test_sync_mode_by_argument(uri):
    from litexp import FileExpManager, QlibRecorder

    r = QlibRecorder(FileExpManager(uri, "Experiment", async_logging=False))
    with r.start(experiment_name="e"):
        rec = r.get_recorder()
        assert rec.async_logging is False
        r.log_params(a=1)
        with pytest.raises(ValueError, match="cannot change"):
            rec.store.log_batch(rec.id, params={"a": 2})


def test_metrics_visible_after_end(R):
    with R.start(experiment_name="e"):
        for i in range(500):
            R.log_metrics(step=i, x=float(i))
        rid = R.get_recorder().id
    assert len(R.get_recorder(recorder_id=rid, experiment_name="e").get_metric_history("x")) == 500


def test_git_capture_inside_work_tree(tmp_path, monkeypatch):
    git = pytest.importorskip("shutil").which("git")
    if git is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(
        os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e"
    )
    for cmd in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    (repo / "changed.py").write_text("x = 1\n")
    monkeypatch.chdir(repo)
    from litexp import FileExpManager, QlibRecorder

    r = QlibRecorder(FileExpManager("file:" + str(tmp_path / "s"), "Experiment"))
    with r.start(experiment_name="e"):
        rec = r.get_recorder()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert rec.list_tags()["mlflow.source.git.commit"] == head
    assert {"code_diff.txt", "code_status.txt", "code_cached.txt"} <= set(rec.list_artifacts())
    assert "changed.py" in open(rec.download_artifact("code_status.txt")).read()


def test_no_git_capture_outside_work_tree(R, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
    assert "mlflow.source.git.commit" not in rec.list_tags()
    assert rec.list_artifacts() == []


def test_slow_writer_flush_waits(R, monkeypatch):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        original = rec.store.log_batch

        def slow(*a, **k):
            time.sleep(0.05)
            return original(*a, **k)

        monkeypatch.setattr(rec._writer.store, "log_batch", slow)
        for i in range(5):
            R.log_metrics(step=i, x=1.0)
        rec.flush()
        assert len(rec.get_metric_history("x")) == 5
