"""save_objects / load_object."""

from __future__ import annotations

import os
import pickle
import threading

import pytest

from litexp import InvalidInputError, LoadObjectError


def test_round_trip(R):
    with R.start(experiment_name="e"):
        R.save_objects(pred={"a": 1}, **{"params.pkl": [1, 2]})
        rec = R.get_recorder()
        assert R.load_object("pred") == {"a": 1}
    assert rec.load_object("params.pkl") == [1, 2]
    assert sorted(rec.list_artifacts()) == ["params.pkl", "pred"]


def test_pickle_protocol_4(R):
    with R.start(experiment_name="e"):
        R.save_objects(obj=[1])
        rec = R.get_recorder()
    with open(os.path.join(rec.get_local_dir(), "artifacts", "obj"), "rb") as fh:
        data = fh.read()
    assert data[:2] == b"\x80\x04"


def test_artifact_path_and_nested_names(R):
    with R.start(experiment_name="e"):
        R.save_objects(artifact_path="sig", **{"pred.pkl": 1, "sub/label.pkl": 2})
        rec = R.get_recorder()
    assert rec.load_object("sig/pred.pkl") == 1
    assert rec.load_object("sig/sub/label.pkl") == 2
    assert rec.list_artifacts("sig") == ["sig/pred.pkl", "sig/sub"]


def test_local_path_file_and_folder(R, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("hello")
    d = tmp_path / "folder"
    (d / "inner").mkdir(parents=True)
    (d / "x.txt").write_text("x")
    (d / "inner" / "y.txt").write_text("y")
    with R.start(experiment_name="e"):
        R.save_objects(local_path=str(f))
        R.save_objects(local_path=str(d), artifact_path="out")
        rec = R.get_recorder()
    assert sorted(rec.list_artifacts()) == ["a.txt", "out"]
    assert sorted(rec.list_artifacts("out")) == ["out/inner", "out/x.txt"]
    with open(rec.download_artifact("out/inner/y.txt")) as fh:
        assert fh.read() == "y"


def test_both_local_path_and_objects_refused(R, tmp_path):
    with R.start(experiment_name="e"):
        with pytest.raises(ValueError, match="not both"):
            R.save_objects(local_path=str(tmp_path), obj=1)


def test_unpicklable_leaves_nothing(R):
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError, match="cannot be pickled"):
            R.save_objects(good=1, bad=threading.Lock())
        rec = R.get_recorder()
        assert rec.list_artifacts() == []
        R.save_objects(good=1)  # the run keeps working
        assert rec.list_artifacts() == ["good"]


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a/../../b"])
def test_escaping_names_refused(R, name, tmp_path):
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError):
            R.save_objects(**{name: 1})
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()


def test_load_missing_and_corrupt(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        with pytest.raises(LoadObjectError, match="nope"):
            rec.load_object("nope")
        with open(os.path.join(rec.get_local_dir(), "artifacts", "junk"), "wb") as fh:
            fh.write(b"not a pickle")
        with pytest.raises(LoadObjectError):
            rec.load_object("junk")
        with pytest.raises(LoadObjectError):
            rec.load_object("../meta.yaml")


def test_custom_unpickler(R):
    class Recording(pickle.Unpickler):
        used = False

        def load(self):
            Recording.used = True
            return super().load()

    with R.start(experiment_name="e"):
        R.save_objects(x=5)
        assert R.get_recorder().load_object("x", unpickler=Recording) == 5
    assert Recording.used
