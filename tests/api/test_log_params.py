"""log_params: stored as str, immutable, validated before anything is written."""

from __future__ import annotations

import os

import pytest

from litexp import InvalidInputError, LitexpError, LoggingFailedError


def test_params_are_strings(R):
    with R.start(experiment_name="e"):
        R.log_params(lr=0.05, layers=3, name="lgbm", flag=True, none=None)
        rec = R.get_recorder()
        params = rec.list_params()
    assert params["lr"] == "0.05" and params["layers"] == "3" and params["flag"] == "True"
    assert params["none"] == "None"


def test_same_value_again_is_fine(R):
    with R.start(experiment_name="e"):
        R.log_params(a=1)
        R.log_params(a=1)
        assert R.get_recorder().list_params()["a"] == "1"


def test_changed_value_is_refused_at_the_call(R):
    with R.start(experiment_name="e"):
        R.log_params(a=1)
        with pytest.raises(InvalidInputError, match="cannot change"):
            R.log_params(a=2)
        R.log_params(b=3)  # the run keeps working
        assert R.get_recorder().list_params()["a"] == "1"


def test_conflict_with_value_written_elsewhere_reaches_caller(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        path = os.path.join(rec.get_local_dir(), "params", "p")
        with open(path, "w") as fh:
            fh.write("other")
        R.log_params(p="mine")
        with pytest.raises(LoggingFailedError, match="cannot change"):
            rec.flush()
        R.log_params(q=1)
        rec.flush()
        assert rec.list_params()["p"] == "other"


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../b", "a\x00b", "x" * 251, "", "a//b", "bad~", "a/./b"])
def test_bad_keys_are_refused_and_nothing_written(R, key, tmp_path):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        before = sorted(os.listdir(os.path.join(rec.get_local_dir(), "params")))
        with pytest.raises(InvalidInputError):
            R.log_params(**{key: 1})
        rec.flush()
        assert sorted(os.listdir(os.path.join(rec.get_local_dir(), "params"))) == before
    assert not (tmp_path / "x").exists()


def test_long_value_is_truncated_with_warning(R, caplog):
    with R.start(experiment_name="e"):
        R.log_params(long="v" * 7000)
        value = R.get_recorder().list_params()["long"]
    assert len(value) == 6000
    assert "truncated" in caplog.text


def test_nested_key(R):
    with R.start(experiment_name="e"):
        R.log_params(**{"model/depth": 3})
        assert R.get_recorder().list_params()["model/depth"] == "3"


def test_key_clashing_with_folder_is_clear_error(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        R.log_params(**{"a/b": 1})
        rec.flush()
        with pytest.raises(LitexpError, match="other param keys start with 'a/'"):
            R.log_params(a=1)
            rec.flush()
        assert rec.list_params()["a/b"] == "1"
