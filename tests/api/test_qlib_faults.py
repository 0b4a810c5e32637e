"""Each known fault of Qlib's implementation (qlib-r-api.md), shown absent in litexp."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from litexp import FileExpManager, LoggingFailedError, QlibRecorder
from litexp.store import FileStore


def test_1_search_records_returns_dataframe_without_cap(R):
    pd = pytest.importorskip("pandas")
    exp = R.get_exp(experiment_name="e")
    with R.start(experiment_name="e"):
        R.log_metrics(x=1)
    frame = R.search_records([exp.id])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1
    # Qlib's default max_results=100000 fails on MLflow's file store (cap 50,000)
    assert len(R.search_records([exp.id], max_results=100000)) == 1


def test_2_download_artifact_returns_path(R, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("data")
    with R.start(experiment_name="e"):
        R.log_artifact(str(src))
        path = R.download_artifact("f.txt")
    assert path is not None and open(path).read() == "data"


def test_3_lock_at_store_root_shared_across_cwds(tmp_path, monkeypatch):
    store = tmp_path / "store"
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        r = QlibRecorder(FileExpManager(str(store), "Experiment"))  # plain-path URI
        r.get_exp(experiment_name="shared")
    assert (store / ".litexp.lock").is_file()
    assert not any(p.name in ("filelock", "home") for p in tmp_path.rglob("*") if store not in p.parents)
    assert len([e for e in FileStore(str(store)).list_experiments() if e.name == "shared"]) == 1


def test_4_writer_error_reaches_caller_and_run_keeps_working(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        with open(os.path.join(rec.get_local_dir(), "params", "p"), "w") as fh:
            fh.write("written by someone else")
        R.log_params(p="mine")  # queued; fails in the background
        with pytest.raises(LoggingFailedError):
            rec.flush()
        R.log_metrics(step=1, after=1.0)  # later calls are not dropped
        R.log_params(q="ok")
    assert rec.list_metrics()["after"] == 1.0 and rec.list_params()["q"] == "ok"


def test_4_writer_error_raised_at_end_run(R):
    exp = R.start_exp(experiment_name="e")
    rec = exp.active_recorder
    with open(os.path.join(rec.get_local_dir(), "params", "p"), "w") as fh:
        fh.write("x")
    R.log_params(p="y")
    with pytest.raises(LoggingFailedError):
        R.end_exp()
    assert rec.refresh().status == "FINISHED"


def test_5_sigterm_ends_run_killed(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys
        from litexp import R
        with R.start(experiment_name="e", uri=sys.argv[1]):
            R.log_metrics(step=0, x=1.0)
            print(R.get_recorder().id, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            R.log_metrics(step=1, never=1.0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "s")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -15, done.stderr
    rid = done.stdout.strip()
    run = FileStore(str(tmp_path / "s")).get_run(rid)
    assert run.status == "KILLED" and run.end_time is not None
    assert run.metrics == {"x": 1.0}


def test_6_local_dir_not_mangled_by_lstrip(tmp_path, monkeypatch):
    # Qlib's lstrip("file:") turns "file:lief/mlruns" into "/mlruns"
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "lief" / "mlruns"
    r = QlibRecorder(FileExpManager("file:lief/mlruns", "Experiment"))
    with r.start(experiment_name="e"):
        rec = r.get_recorder()
    assert rec.get_local_dir().startswith(str(store))
    assert os.path.isdir(rec.get_local_dir())


def test_7_no_git_noise_outside_git(tmp_path):
    script = "import sys; from litexp import R\nwith R.start(experiment_name='e', uri=sys.argv[1]): pass\n"
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "s")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "usage" not in done.stdout


def test_8_list_and_delete_recorders_do_not_create_experiments(R, store_dir):
    R.get_exp(experiment_name="real")
    before = {e.name for e in FileStore(str(store_dir)).list_experiments()}
    with pytest.raises(ValueError):
        R.list_recorders(experiment_name="missing")
    with pytest.raises(ValueError):
        R.delete_recorder(recorder_id="0" * 32)
    assert {e.name for e in FileStore(str(store_dir)).list_experiments()} == before


def test_9_stray_folder_does_not_break_listing(R, store_dir):
    with R.start(experiment_name="e"):
        R.log_metrics(x=1)
    (store_dir / ".ipynb_checkpoints").mkdir()
    exp_dir = store_dir / R.get_exp(experiment_name="e").id
    (exp_dir / ".ipynb_checkpoints").mkdir()
    assert "e" in R.list_experiments()
    assert len(R.list_recorders(experiment_name="e")) == 1
