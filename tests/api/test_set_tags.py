"""set_tags / delete_tags."""

from __future__ import annotations

import pytest

from litexp import InvalidInputError


def test_set_overwrite_delete(R):
    with R.start(experiment_name="e"):
        R.set_tags(owner="me", n=3)
        R.set_tags(owner="you")
        rec = R.get_recorder()
        assert rec.list_tags()["owner"] == "you" and rec.list_tags()["n"] == "3"
        rec.delete_tags("owner")
        assert "owner" not in rec.list_tags()
        with pytest.raises(ValueError, match="no tag"):
            rec.delete_tags("owner")


def test_run_name_tag_renames(R):
    with R.start(experiment_name="e"):
        R.set_tags(**{"mlflow.runName": "renamed"})
        rec = R.get_recorder()
        rid = rec.id
    assert R.get_recorder(recorder_id=rid, experiment_name="e").name == "renamed"
    assert R.get_recorder(recorder_name="renamed", experiment_name="e").id == rid


def test_bad_tag_key(R):
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError):
            R.set_tags(**{"../evil": "x"})


def test_long_tag_truncated(R):
    with R.start(experiment_name="e"):
        R.set_tags(t="x" * 9000)
        assert len(R.get_recorder().list_tags()["t"]) == 8000
