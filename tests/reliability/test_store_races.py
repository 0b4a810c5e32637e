"""Races and fixes of the store: meta.yaml changes never lost, soft-lock breaks that keep a fresh
lock, reads that never create a store, experiments newest first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from optional_support import package_paths

from litexp import FileExpManager, InvalidInputError, LoadObjectError, NotFoundError, QlibRecorder
from litexp.store import FileStore, ViewType
from litexp.store.file.locks import SoftLock

REPO = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import sys, time
    from litexp import FileExpManager, LitexpError, QlibRecorder
    uri, exp_name, run_id, index = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    R = QlibRecorder(FileExpManager(uri, "Experiment", async_logging=False))
    deadline = time.monotonic() + 0.6
    n = 0
    try:
        rec = R.get_recorder(recorder_id=run_id, experiment_name=exp_name)  # gone if the delete came first
        while time.monotonic() < deadline:
            rec.set_tags(**{"mlflow.runName": f"name-{index}-{n}"})   # a meta.yaml rewrite
            rec.end_run("FINISHED" if n % 2 else "FAILED")           # another one
            n += 1
    except LitexpError as exc:
        print("stopped:", type(exc).__name__)
    """
)

DELETER = textwrap.dedent(
    """
    import random, sys, time
    from litexp import FileExpManager, QlibRecorder
    uri, exp_name = sys.argv[1], sys.argv[2]
    time.sleep(random.uniform(0.05, 0.4))
    QlibRecorder(FileExpManager(uri, "Experiment")).delete_exp(experiment_name=exp_name)
    """
)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(package_paths() + [env.get("PYTHONPATH", "")])
    return env


def test_meta_changes_racing_an_experiment_delete_are_never_lost(tmp_path: Path) -> None:
    """8 processes end and rename their runs while a 9th deletes the experiment, 8 rounds:
    every run of the deleted experiment reads as deleted afterwards."""
    uri = "file:" + str(tmp_path / "mlruns")
    worker, deleter = tmp_path / "worker.py", tmp_path / "deleter.py"
    worker.write_text(WORKER, encoding="utf-8")
    deleter.write_text(DELETER, encoding="utf-8")
    R = QlibRecorder(FileExpManager(uri, "Experiment", async_logging=False))
    problems = []
    for round_ in range(8):
        exp_name = f"race-{round_}"
        run_ids = []
        for i in range(8):
            with R.start(experiment_name=exp_name, recorder_name=f"r{i}"):
                run_ids.append(R.get_recorder().id)
        exp_id = R.get_exp(experiment_name=exp_name, create=False).id
        procs = [
            subprocess.Popen(
                [sys.executable, str(worker), uri, exp_name, rid, str(i)],
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for i, rid in enumerate(run_ids)
        ]
        procs.append(
            subprocess.Popen([sys.executable, str(deleter), uri, exp_name], env=_env(), stderr=subprocess.PIPE)
        )
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()[-2000:]
        runs = FileStore(str(tmp_path / "mlruns")).load_runs([exp_id], ViewType.ALL)
        assert sorted(r.run_id for r in runs) == sorted(run_ids)
        problems += [
            f"round {round_}: {r.run_id} is {r.lifecycle_stage}" for r in runs if r.lifecycle_stage != "deleted"
        ]
    assert problems == []


def test_soft_lock_break_keeps_a_lock_retaken_in_between(tmp_path: Path) -> None:
    path = tmp_path / ".litexp.softlock"
    path.write_text("otherhost 1 - 0.0 deadbeef\n", encoding="utf-8")
    old = os.stat(path)
    os.utime(path, (time.time() - 10_000, time.time() - 10_000))
    lock = SoftLock(str(path), timeout=1)
    identity = lock._stale_identity()
    assert identity is not None  # old enough to be stale
    # between the judgement and the break, the owner's lock is replaced by a fresh one
    path.unlink()
    fresh = SoftLock(str(path), timeout=1)
    fresh.acquire()
    fresh_text = path.read_text(encoding="utf-8")
    assert os.stat(path).st_ino != old.st_ino or fresh_text != "otherhost 1 - 0.0 deadbeef\n"
    lock._break(identity)
    assert path.read_text(encoding="utf-8") == fresh_text  # the fresh lock is still there
    assert not list(tmp_path.glob("*.stale"))
    with pytest.raises(Exception, match="delete that file"):
        SoftLock(str(path), timeout=0.2).acquire()
    fresh.release()
    assert not path.exists()


def test_soft_lock_of_a_dead_local_process_is_broken(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(done.stdout)
    from litexp import platform

    path = tmp_path / ".litexp.softlock"
    path.write_text(f"{platform.host_name()} {dead_pid} - {time.time():.3f} token\n", encoding="utf-8")
    lock = SoftLock(str(path), timeout=2)
    lock.acquire()
    assert "token" not in path.read_text(encoding="utf-8")
    lock.release()


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    R = QlibRecorder(FileExpManager("file:" + str(missing), "Experiment"))
    for call in (
        lambda: R.list_experiments(),
        lambda: R.search_records(None),
        lambda: R.get_exp(experiment_name="x", create=False),
        lambda: R.get_recorder(recorder_id="0" * 32, experiment_name="x"),
        lambda: R.list_recorders(experiment_name="x"),
        lambda: R.exp_manager.end_stale_recorders(),
    ):
        with pytest.raises(NotFoundError, match="No store at .*typo"):
            call()
    with pytest.raises(LoadObjectError, match="no recorder is running"):
        R.load_object("pred.pkl")
    assert not missing.exists()
    done = subprocess.run(
        [sys.executable, "-m", "litexp", "experiments", "--uri", "file:./typo"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "No store at" in done.stderr and "Traceback" not in done.stderr
    assert not missing.exists()
    # a writer still creates it
    with R.start(experiment_name="x"):
        pass
    assert (missing / "0" / "meta.yaml").is_file() and (missing / ".trash").is_dir()


def test_experiments_are_listed_newest_first(tmp_path: Path) -> None:
    R = QlibRecorder(FileExpManager("file:" + str(tmp_path / "mlruns"), "Experiment"))
    for name in ("first", "second", "third"):
        time.sleep(0.005)  # the store's "Default" (made with "first") and each one: distinct times
        R.exp_manager.create_exp(name)
    created = {name: exp.info for name, exp in R.list_experiments().items()}
    store = FileStore(str(tmp_path / "mlruns"))
    times = {r.name: r.creation_time for r in store.list_experiments()}
    if times["Default"] == times["first"]:  # same millisecond: ties go by id, "0" first
        assert list(created) == ["third", "second", "Default", "first"]
        return
    assert list(R.list_experiments()) == ["third", "second", "first", "Default"]


def test_lookups_by_id_go_to_the_path(tmp_path: Path) -> None:
    """A run is found by id in its experiment even when the store's listing does not show it."""
    root = tmp_path / "mlruns"
    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    with R.start(experiment_name="e"):
        rid = R.get_recorder().id
    exp_id = R.get_exp(experiment_name="e", create=False).id
    store = FileStore(str(root))
    store.layout.experiment_folders = lambda trashed: []  # a stale listing: shows nothing
    assert store.get_run(rid, exp_id).run_id == rid


def test_bad_input_is_a_clear_error() -> None:
    from litexp.store import validation

    with pytest.raises(InvalidInputError):
        validation.validate_key([1], "Metric")
    with pytest.raises(InvalidInputError, match="unknown argument"):
        FileExpManager("file:./mlruns", "E").start_exp(experiment_name="x", colour="red")


def test_search_layer_loads_no_store_code() -> None:
    code = "import sys, litexp.search; print(sorted(m for m in sys.modules if m.startswith('litexp.')))"
    loaded = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True).stdout
    assert "litexp.store" not in loaded and "litexp.runtime" not in loaded and "litexp.records" in loaded


def test_readme_lists_every_setting() -> None:
    from litexp import config

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith(("| `LITEXP_", "| `MLFLOW_"))]
    assert rows == [f"| `{s.name}` | {f'`{s.default}`' if s.default else 'none'} | {s.doc} |" for s in config.SETTINGS]


def test_platform_answers_for_this_machine() -> None:
    from litexp import platform

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert platform.pid_alive(os.getpid(), platform.process_start(os.getpid()))
    assert not platform.pid_alive(int(done.stdout))
    assert not platform.pid_alive(os.getpid(), started=-1) or platform.process_start(os.getpid()) is None
    assert platform.host_name()


def test_fcntl_lock_excludes_other_threads_and_forked_children(tmp_path: Path) -> None:
    import threading

    from litexp import LockTimeoutError
    from litexp.store.file.locks import FcntlLock

    lock = FcntlLock(str(tmp_path / ".litexp.lock"), timeout=0.3)
    outcome = []

    def other_thread() -> None:
        try:
            lock.acquire()
            outcome.append("took it")
            lock.release()
        except LockTimeoutError:
            outcome.append("waited")

    with lock:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(10)
        pid = os.fork()
        if pid == 0:  # the child shares the parent's open lock file, but not its lock
            try:
                lock.acquire()
                os._exit(1)
            except LockTimeoutError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
    assert outcome == ["waited"]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    with lock:  # free again, and re-entrant within one thread
        with lock:
            pass


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("LITEXP_SYNC_LOGGING", "maybe", "must be 1 or 0"),
        ("LITEXP_INDEX", "sometimes", "must be 1 or 0"),
        ("LITEXP_LOCK_TIMEOUT", "soon", "number of seconds"),
        ("LITEXP_LOCK_STALE_AFTER", "-5", "zero or more"),
        ("LITEXP_HEARTBEAT_INTERVAL", "fast", "number of seconds"),
        ("LITEXP_LOCK_MODE", "magic", "auto, fcntl or soft"),
    ],
)
def test_a_bad_setting_is_a_clear_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    R = QlibRecorder(FileExpManager("file:" + str(tmp_path / "mlruns"), "Experiment"))
    with R.start(experiment_name="e"):
        R.log_metrics(step=0, x=1.0)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".litexp" not in p.name)
    monkeypatch.setenv(name, value)
    from litexp import config

    getter = {
        "LITEXP_SYNC_LOGGING": config.sync_logging,
        "LITEXP_INDEX": config.index_enabled,
        "LITEXP_LOCK_TIMEOUT": config.lock_timeout,
        "LITEXP_LOCK_STALE_AFTER": config.lock_stale_after,
        "LITEXP_HEARTBEAT_INTERVAL": config.heartbeat_interval,
        "LITEXP_LOCK_MODE": config.lock_mode,
    }[name]
    with pytest.raises(InvalidInputError, match=f"{name} .*{message}"):
        getter()
    # through the API, before anything is written
    with pytest.raises(InvalidInputError, match=name):
        if name == "LITEXP_INDEX":
            QlibRecorder(FileExpManager("file:" + str(tmp_path / "mlruns"), "Experiment")).search_records(None)
        elif name in ("LITEXP_SYNC_LOGGING", "LITEXP_HEARTBEAT_INTERVAL"):
            with QlibRecorder(FileExpManager("file:" + str(tmp_path / "mlruns"), "Experiment")).start(
                experiment_name="e"
            ):
                pass
        elif name == "LITEXP_LOCK_STALE_AFTER":  # read when a soft lock is found held
            (tmp_path / "held").write_text("otherhost 1 - 0.0 token\n", encoding="utf-8")
            SoftLock(str(tmp_path / "held"), timeout=0.1).acquire()
        else:  # lock mode and timeout: read when a store is opened
            FileStore(str(tmp_path / "mlruns")).create_experiment("new")
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if ".litexp" not in p.name and p.name != "held")
    assert after == before
