"""log_artifact / list_artifacts / download_artifact."""

from __future__ import annotations

import os

import pytest

from litexp import InvalidInputError, NotFoundError


def test_log_list_download(R, tmp_path):
    src = tmp_path / "report.csv"
    src.write_text("a,b\n1,2\n")
    with R.start(experiment_name="e"):
        R.log_artifact(str(src), artifact_path="reports")
        rec = R.get_recorder()
        dst = R.download_artifact("reports/report.csv", dst_path=str(tmp_path / "dl"))
    assert rec.list_artifacts() == ["reports"]
    assert rec.list_artifacts("reports") == ["reports/report.csv"]
    assert dst == str(tmp_path / "dl" / "reports" / "report.csv")
    assert open(dst).read() == "a,b\n1,2\n"


def test_download_returns_path_by_default(R, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    with R.start(experiment_name="e"):
        R.log_artifact(str(src))
        path = R.download_artifact("f.txt")
    assert path is not None and open(path).read() == "x"


def test_missing_source_and_artifact(R, tmp_path):
    with R.start(experiment_name="e"):
        with pytest.raises(NotFoundError):
            R.log_artifact(str(tmp_path / "missing"))
        with pytest.raises(NotFoundError):
            R.download_artifact("missing")


@pytest.mark.parametrize("artifact_path", ["../up", "/abs", "a/../../b"])
def test_escaping_artifact_path(R, tmp_path, artifact_path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError):
            R.log_artifact(str(src), artifact_path=artifact_path)
        with pytest.raises(InvalidInputError):
            R.get_recorder().list_artifacts(artifact_path)


def test_symlink_out_of_folder_refused(R, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    os.symlink(secret, folder / "link.txt")
    with R.start(experiment_name="e"):
        with pytest.raises(InvalidInputError, match="symbolic link"):
            R.log_artifact(str(folder))
        assert R.get_recorder().list_artifacts() == []


def test_symlinked_artifact_folder_in_store_is_not_followed_out(R, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "f.txt"
    src.write_text("x")
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        os.symlink(outside, os.path.join(rec.get_local_dir(), "artifacts", "link"))
        with pytest.raises(InvalidInputError, match="outside"):
            R.log_artifact(str(src), artifact_path="link")
    assert list(outside.iterdir()) == []
