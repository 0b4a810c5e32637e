"""Qlib driving litexp: every object and error litexp hands to Qlib is of Qlib's class (and litexp's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from qlib_support import run_python

pytestmark = pytest.mark.usefixtures("need_qlib")

QLIB_INIT = """
import json, os, pickle, sys
import litexp
import qlib
qlib.init(exp_manager={"class": "FileExpManager", "module_path": "litexp",
                       "kwargs": {"uri": "file:./mlruns", "default_exp_name": "Experiment"}})
from qlib.workflow import R
from qlib.workflow.exp import Experiment as QExperiment
from qlib.workflow.expm import ExpManager as QExpManager
from qlib.workflow.recorder import Recorder as QRecorder
from qlib.utils.exceptions import ExpAlreadyExistError as QExpAlreadyExistError
from qlib.utils.exceptions import LoadObjectError as QLoadObjectError
out = {}
"""


def test_import_litexp_loads_neither_qlib_nor_mlflow(tmp_path: Path) -> None:
    loaded = run_python(
        """
        import json, sys
        import litexp
        assert 'qlib' not in sys.modules and 'mlflow' not in sys.modules
        from litexp import R, FileExpManager, Experiment, Recorder
        with R.start(experiment_name="plain", uri="file:./mlruns"):
            R.log_metrics(step=0, x=1.0)
            R.save_objects(obj=[1])
        R.search_records([R.get_exp(experiment_name="plain").id])
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("qlib", "mlflow"))))
        """,
        tmp_path,
    )
    assert loaded == []


def test_plain_litexp_classes_without_qlib() -> None:
    import litexp
    from litexp.manager import FileExpManager as Plain

    assert "qlib.workflow" not in sys.modules
    assert litexp.FileExpManager is Plain


def test_litexp_file_exp_manager_is_qlibs_once_qlib_is_loaded(tmp_path: Path) -> None:
    out = run_python(
        """
        import json
        import litexp
        from litexp.manager import FileExpManager as Plain
        before = litexp.FileExpManager is Plain
        import qlib.workflow
        from litexp import qlib_adapter
        from litexp import FileExpManager
        print(json.dumps([before, litexp.FileExpManager is qlib_adapter.FileExpManager,
                          FileExpManager is qlib_adapter.FileExpManager, issubclass(FileExpManager, Plain),
                          type(Plain("file:./mlruns", "E")) is Plain]))
        """,
        tmp_path,
    )
    assert out == [True, True, True, True, True]


def test_manager_experiments_and_recorders_are_qlibs_classes(tmp_path: Path) -> None:
    out = run_python(
        QLIB_INIT
        + """
manager = R.exp_manager
out["manager"] = [isinstance(manager, QExpManager), isinstance(manager, litexp.ExpManager), type(manager).__module__]
with R.start(experiment_name="exp", recorder_name="first"):
    exp, rec = R.get_exp(), R.get_recorder()
    out["active"] = [isinstance(exp, QExperiment), isinstance(rec, QRecorder),
                     isinstance(exp, litexp.Experiment), isinstance(rec, litexp.Recorder)]
    rid = rec.id
exp = R.get_exp(experiment_name="exp")
found = [
    exp, R.get_exp(experiment_id=exp.id), R.list_experiments()["exp"], manager.create_exp("second"),
    manager.get_exp(experiment_name="second", create=False),
]
recs = [
    R.get_recorder(recorder_id=rid, experiment_name="exp"), R.get_recorder(recorder_name="first", experiment_name="exp"),
    R.list_recorders(experiment_name="exp")[rid], exp.list_recorders(rtype=exp.RT_L)[0], exp.create_recorder("new"),
    exp.get_recorder(recorder_id=rid), pickle.loads(pickle.dumps(exp.get_recorder(recorder_id=rid))),
]
out["found_exps"] = [isinstance(e, QExperiment) for e in found]
out["found_recs"] = [isinstance(r, QRecorder) for r in recs]
out["same"] = recs[0] == recs[-1] and hash(recs[0]) == hash(recs[-1])
out["info"] = [exp.info["class"], recs[0].info["class"], sorted(exp.info), sorted(recs[0].info)]
out["unlimited"] = [exp.UNLIMITED, len(exp.list_recorders(max_results=exp.UNLIMITED))]
print(json.dumps(out))
""",
        tmp_path,
    )
    assert out["manager"] == [True, True, "litexp.qlib_adapter"]
    assert out["active"] == [True] * 4
    assert out["found_exps"] == [True] * 5
    assert out["found_recs"] == [True] * 7
    assert out["same"]
    assert out["info"] == [
        "Experiment",
        "Recorder",
        ["active_recorder", "class", "id", "name", "recorders"],
        ["class", "end_time", "experiment_id", "id", "name", "start_time", "status"],
    ]
    assert out["unlimited"] == [None, 1]


def test_errors_are_qlibs_and_litexps(tmp_path: Path) -> None:
    out = run_python(
        QLIB_INIT
        + """
def caught(call, *classes):
    try:
        call()
    except Exception as exc:
        return [type(exc).__name__] + [isinstance(exc, c) for c in classes]
    return None

with R.start(experiment_name="exp"):
    rec = R.get_recorder()
    R.save_objects(**{"bad.pkl": "x"})
    with open("not_a_pickle.pkl", "w") as fh:
        fh.write("not a pickle")
    R.log_artifact("not_a_pickle.pkl")
out["missing"] = caught(lambda: rec.load_object("nothing.pkl"), QLoadObjectError, litexp.LoadObjectError, litexp.LitexpError)
out["corrupt"] = caught(lambda: rec.load_object("not_a_pickle.pkl"), QLoadObjectError, litexp.LoadObjectError)
out["exists"] = caught(lambda: R.exp_manager.create_exp("exp"), QExpAlreadyExistError, litexp.ExpAlreadyExistError, litexp.LitexpError)
out["no_exp"] = caught(lambda: R.get_exp(experiment_name="missing", create=False), ValueError, litexp.NotFoundError)
out["no_rec"] = caught(lambda: R.get_recorder(recorder_id="0" * 32, experiment_name="exp"), ValueError, litexp.NotFoundError)
out["no_delete"] = caught(lambda: R.delete_exp(experiment_name="missing"), ValueError)
out["listing_missing"] = caught(lambda: R.list_recorders(experiment_name="missing"), ValueError)
out["experiments"] = sorted(R.list_experiments())
print(json.dumps(out))
""",
        tmp_path,
    )
    assert out["missing"] == ["LoadObjectError", True, True, True]
    assert out["corrupt"] == ["LoadObjectError", True, True]
    assert out["exists"] == ["ExpAlreadyExistError", True, True, True]
    assert out["no_exp"] == ["NotFoundError", True, True]
    assert out["no_rec"] == ["NotFoundError", True, True]
    assert out["no_delete"] == ["NotFoundError", True]
    # Qlib's own R.list_recorders calls get_exp(create=True): it creates a missing experiment
    # (litexp's R refuses instead; README). Nothing else was created by the failed lookups.
    assert out["listing_missing"] is None
    assert out["experiments"] == ["Default", "exp", "missing"]


def test_qlib_attributes_and_uri_round_trip(tmp_path: Path) -> None:
    out = run_python(
        QLIB_INIT
        + """
from qlib.config import C
exp = R.get_exp(experiment_name="exp")
rec = exp.create_recorder("before")
rec.set_recorder_name("renamed")
rec.start_run()
rec.end_run("FINISHED")
started = R.get_recorder(recorder_id=rec.id, experiment_name="exp")
out["named"] = [rec.name, started.name, rec.recorder_name]
started.set_recorder_name("again")
out["renamed"] = [R.get_recorder(recorder_id=rec.id, experiment_name="exp").name,
                  R.search_records([exp.id])["tags.mlflow.runName"].tolist()]
other = "file:" + os.path.abspath("other_store")
R.set_uri(other)
out["uri"] = [R.get_uri() == other, C.exp_manager["kwargs"]["uri"] == other]
with R.uri_context("file:" + os.path.abspath("third")):
    out["inside"] = R.get_uri().endswith("third")
out["after"] = R.get_uri() == other
with R.start(experiment_name="exp2"):
    R.save_objects(**{"obj.pkl": {"a": 1}})
    out["download"] = R.download_artifact("obj.pkl")
    out["load"] = R.load_object("obj.pkl")
out["statuses"] = [R.get_recorder(experiment_name="exp2", recorder_name="mlflow_recorder").status]
print(json.dumps(out))
""",
        tmp_path,
    )
    assert out["named"] == ["renamed", "renamed", "renamed"]
    assert out["renamed"] == ["again", ["again"]]
    assert out["uri"] == [True, True]
    assert out["inside"] and out["after"]
    assert out["download"] is None  # Qlib's own R.download_artifact drops the path (README)
    assert out["load"] == {"a": 1}
    assert out["statuses"] == ["FINISHED"]


def test_qlib_r_on_litexp_keeps_litexps_safety(tmp_path: Path) -> None:
    """Under Qlib's own R: bad keys and unpicklable objects fail at the call with nothing written."""
    out = run_python(
        QLIB_INIT
        + """
import threading
with R.start(experiment_name="exp"):
    try:
        R.log_metrics(**{"a;b": 1.0})
    except litexp.InvalidInputError as exc:
        out["bad_key"] = isinstance(exc, ValueError)
    try:
        R.save_objects(first=1, second=threading.Lock())
    except litexp.InvalidInputError:
        out["unpicklable"] = R.get_recorder().list_artifacts()
    R.log_metrics(step=1, ok=2.0)
    rec = R.get_recorder()
out["after"] = [rec.list_metrics(), rec.status]
print(json.dumps(out))
""",
        tmp_path,
    )
    assert out == {"bad_key": True, "unpicklable": [], "after": [{"ok": 2.0}, "FINISHED"]}


def test_sigterm_under_qlibs_r_ends_the_run_killed(tmp_path: Path) -> None:
    import signal
    import subprocess

    from qlib_support import qlib_env

    script = tmp_path / "job.py"
    script.write_text(
        QLIB_INIT
        + """
import signal, time
with R.start(experiment_name="job"):
    for step in range(100):
        R.log_metrics(step=step, loss=1.0 / (step + 1))
    print(R.get_recorder().id, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
""",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=qlib_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGTERM, proc.stderr[-3000:]
    run_id = proc.stdout.split()[-1]
    from litexp.store import FileStore

    store = FileStore(str(tmp_path / "mlruns"))
    run = store.get_run(run_id)
    assert run.status == "KILLED" and run.end_time is not None
    assert len(store.get_metric_history(run_id, "loss")) == 100
