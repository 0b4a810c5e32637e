"""list_recorders / get_recorder / delete_recorder / Recorder properties."""

from __future__ import annotations

import os
import pickle
import time

import pytest

from litexp import Recorder


def make_runs(R, n, exp="e"):
    ids = []
    for i in range(n):
        with R.start(experiment_name=exp, recorder_name=f"r{i}"):
            ids.append(R.get_recorder().id)
        time.sleep(0.002)
    return ids


def test_list_recorders_newest_first(R):
    ids = make_runs(R, 3)
    recs = R.list_recorders(experiment_name="e")
    assert list(recs) == ids[::-1]
    assert all(isinstance(r, Recorder) for r in recs.values())


def test_list_recorders_options(R):
    ids = make_runs(R, 3)
    exp = R.get_exp(experiment_name="e")
    assert [r.id for r in exp.list_recorders(rtype=exp.RT_L)] == ids[::-1]
    assert list(exp.list_recorders(max_results=2)) == ids[::-1][:2]
    assert list(exp.list_recorders(status="FINISHED")) == ids[::-1]
    assert exp.list_recorders(status="FAILED") == {}
    assert list(exp.list_recorders(filter_string="tags.mlflow.runName = 'r1'")) == [ids[1]]


def test_get_recorder_by_name_returns_latest(R):
    with R.start(experiment_name="e", recorder_name="same"):
        pass
    time.sleep(0.002)
    with R.start(experiment_name="e", recorder_name="same"):
        latest = R.get_recorder().id
    assert R.get_recorder(recorder_name="same", experiment_name="e").id == latest


def test_get_recorder_missing(R):
    make_runs(R, 1)
    with pytest.raises(ValueError):
        R.get_recorder(recorder_id="0" * 32, experiment_name="e")
    with pytest.raises(ValueError):
        R.get_recorder(recorder_name="nobody", experiment_name="e")
    with pytest.raises(ValueError):
        R.get_recorder(recorder_id="../../etc", experiment_name="e")


def test_get_recorder_of_other_experiment_refused(R):
    (rid,) = make_runs(R, 1, exp="a")
    R.get_exp(experiment_name="b")
    with pytest.raises(ValueError):
        R.get_recorder(recorder_id=rid, experiment_name="b")


def test_delete_recorder(R):
    ids = make_runs(R, 2)
    with R.start(experiment_name="e"):
        pass
    exp = R.get_exp(experiment_name="e")
    exp.delete_recorder(recorder_id=ids[0])
    exp.delete_recorder(recorder_name="r1")
    assert ids[0] not in exp.list_recorders() and ids[1] not in exp.list_recorders()
    with pytest.raises(ValueError):
        R.get_recorder(recorder_id=ids[0], experiment_name="e")


def test_logging_to_deleted_run_refused(R):
    (rid,) = make_runs(R, 1)
    rec = R.get_recorder(recorder_id=rid, experiment_name="e")
    R.get_exp(experiment_name="e").delete_recorder(recorder_id=rid)
    with pytest.raises(ValueError, match="deleted"):
        rec.log_metrics(x=1)


def test_logging_to_finished_run_allowed(R):
    (rid,) = make_runs(R, 1)
    rec = R.get_recorder(recorder_id=rid, experiment_name="e")
    rec.log_metrics(step=1, late=1.0)
    rec.set_tags(after="yes")
    assert rec.list_metrics()["late"] == 1.0
    assert rec.refresh().status == "FINISHED"


def test_recorder_info_and_identity(R):
    (rid,) = make_runs(R, 1)
    a = R.get_recorder(recorder_id=rid, experiment_name="e")
    b = R.get_recorder(recorder_id=rid, experiment_name="e")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    info = a.info
    assert info["class"] == "Recorder"  # as Qlib's recorders report
    assert info["id"] == rid and info["status"] == "FINISHED" and info["name"] == "r0"
    assert len(info["start_time"]) == len("2024-01-01 00:00:00")
    assert a.artifact_uri.startswith("file://") and a.artifact_uri.endswith(f"{rid}/artifacts")
    assert a.get_artifact_uri() == a.artifact_uri
    assert os.path.basename(a.get_local_dir()) == rid


def test_recorder_pickles(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        R.log_metrics(x=1)
        clone = pickle.loads(pickle.dumps(rec))
    assert clone == rec and clone.list_metrics() == {"x": 1.0}


def test_unstarted_recorder(R):
    exp = R.get_exp(experiment_name="e")
    rec = exp.create_recorder("later")
    assert rec.id is None and rec.status == "SCHEDULED"
    with pytest.raises(ValueError):
        rec.get_artifact_uri()
    with pytest.raises(Exception, match="not been started"):
        rec.log_metrics(x=1)
    rec.start_run()
    rec.log_metrics(x=1)
    rec.end_run("FINISHED")
    assert rec.status == "FINISHED"


def test_end_run_bad_status(R):
    with R.start(experiment_name="e"):
        with pytest.raises(ValueError, match="status"):
            R.get_recorder().end_run("DONE")


def test_set_recorder_name_before_and_after_start(R):
    exp = R.get_exp(experiment_name="e")
    rec = exp.create_recorder("draft")
    rec.set_recorder_name("named")
    rec.start_run()
    assert rec.name == "named" and rec.recorder_name == "named"
    assert R.get_recorder(recorder_id=rec.id, experiment_name="e").name == "named"
    rec.set_recorder_name("renamed")
    rec.end_run("FINISHED")
    found = R.get_recorder(recorder_name="renamed", experiment_name="e")
    assert found.id == rec.id and found.list_tags()["mlflow.runName"] == "renamed"
    assert list(R.search_records([exp.id])["tags.mlflow.runName"]) == ["renamed"]
