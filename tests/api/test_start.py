"""R.start / R.start_exp / R.end_exp: statuses, resume, capture."""

from __future__ import annotations

import pytest

from litexp import FileExpManager, InvalidInputError, QlibRecorder
from litexp.store import FileStore


def run_of(R, rid):
    return R.get_recorder(recorder_id=rid, experiment_name="e")


def test_start_yields_experiment_and_finishes(R):
    with R.start(experiment_name="e") as exp:
        assert exp.name == "e"
        rec = R.get_recorder()
        assert rec.status == "RUNNING"
        rid = rec.id
    rec = run_of(R, rid)
    assert rec.status == "FINISHED"
    assert rec.end_time is not None


def test_return_inside_with_finishes(R):
    def job():
        with R.start(experiment_name="e"):
            return R.get_recorder().id

    assert run_of(R, job()).status == "FINISHED"


def test_exception_marks_failed_and_reraises(R):
    holder = {}
    with pytest.raises(ZeroDivisionError):
        with R.start(experiment_name="e"):
            holder["id"] = R.get_recorder().id
            raise ZeroDivisionError("inside the run")
    assert run_of(R, holder["id"]).status == "FAILED"


def test_keyboard_interrupt_marks_killed(R):
    holder = {}
    with pytest.raises(KeyboardInterrupt):
        with R.start(experiment_name="e"):
            holder["id"] = R.get_recorder().id
            raise KeyboardInterrupt
    rec = run_of(R, holder["id"])
    assert rec.status == "KILLED"
    assert rec.end_time is not None


def test_default_experiment_and_recorder_names(R):
    with R.start():
        rec = R.get_recorder()
        assert R.get_exp().name == "Experiment"
        assert rec.name == "mlflow_recorder"


def test_recorder_name_and_resume(R):
    with R.start(experiment_name="e", recorder_name="first"):
        R.log_metrics(step=0, x=1.0)
        rid = R.get_recorder().id
    with R.start(experiment_name="e", recorder_id=rid, resume=True):
        assert R.get_recorder().id == rid
        R.log_metrics(step=1, x=2.0)
    rec = run_of(R, rid)
    assert rec.status == "FINISHED"
    assert [p.step for p in rec.get_metric_history("x")] == [0, 1]
    assert rec.name == "first"


def test_resume_by_name(R):
    with R.start(experiment_name="e", recorder_name="named"):
        rid = R.get_recorder().id
    with R.start(experiment_name="e", recorder_name="named", resume=True):
        assert R.get_recorder().id == rid


def test_start_exp_end_exp(R):
    exp = R.start_exp(experiment_name="e")
    rid = exp.active_recorder.id
    R.end_exp("FAILED")
    assert run_of(R, rid).status == "FAILED"
    R.end_exp()  # nothing active: no-op


def test_second_start_while_running_is_refused(R):
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError, match="already running"):
            R.start_exp(experiment_name="other")


def test_start_uri_applies_inside_only(tmp_path, R):
    other = "file:" + str(tmp_path / "other")
    default = R.get_uri()
    with R.start(experiment_name="e", uri=other):
        assert R.get_uri() == other
        R.log_metrics(a=1)
    assert R.get_uri() == default
    assert FileStore(str(tmp_path / "other")).find_experiment("e") is not None


def test_start_by_experiment_id(R):
    exp = R.get_exp(experiment_name="e")
    with R.start(experiment_id=exp.id) as started:
        assert started.id == exp.id


def test_start_with_unknown_experiment_id_fails(R):
    with pytest.raises(ValueError):
        R.start_exp(experiment_id="123456")


def test_captured_params_and_system_tags(R, monkeypatch):
    monkeypatch.setenv("_QLIB_MARKER", "yes")
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
    params, tags = rec.list_params(), rec.list_tags()
    assert "cmd-sys.argv" in params
    assert params["_QLIB_MARKER"] == "yes"
    assert tags["mlflow.runName"] == rec.name
    assert tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in tags and "mlflow.source.name" in tags


def test_implicit_start_outside_with(uri):
    r = QlibRecorder(FileExpManager(uri, "Experiment"))
    r.log_metrics(a=1.0)
    rec = r.get_recorder()
    assert rec.name == "mlflow_recorder"
    assert r.get_exp().name == "Experiment"
    r.end_exp()
    assert r.get_recorder(recorder_id=rec.id, experiment_name="Experiment").status == "FINISHED"
