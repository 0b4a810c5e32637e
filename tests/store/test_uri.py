"""get_uri / set_uri / uri_context and the accepted URI forms."""

from __future__ import annotations

import os

import pytest

from litexp import FileExpManager, InvalidInputError, QlibRecorder
from litexp.store import uri_to_path


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("file:/abs/mlruns", "/abs/mlruns"),
        ("file:///abs/mlruns", "/abs/mlruns"),
        ("file://localhost/abs/mlruns", "/abs/mlruns"),
        ("/abs/mlruns", "/abs/mlruns"),
        ("file:///abs/with%20space", "/abs/with space"),
    ],
)
def test_absolute_forms(uri, expected):
    assert uri_to_path(uri) == expected


def test_relative_and_home_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert uri_to_path("file:rel/mlruns") == str(tmp_path / "rel" / "mlruns")
    assert uri_to_path("rel/mlruns") == str(tmp_path / "rel" / "mlruns")
    assert uri_to_path("~/mlruns") == str(tmp_path / "home" / "mlruns")


@pytest.mark.parametrize("uri", ["http://server:5000", "s3://bucket/x", "file://otherhost/x", "", "databricks"])
def test_unsupported_uris(uri):
    if uri == "databricks":  # a bare word is a relative folder
        assert uri_to_path(uri).endswith("databricks")
        return
    with pytest.raises(InvalidInputError):
        uri_to_path(uri)


def test_default_uri_is_cwd_mlruns_at_creation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = QlibRecorder()
    assert r.get_uri() == "file:" + str(tmp_path / "mlruns")
    os.chdir("/")
    assert r.get_uri() == "file:" + str(tmp_path / "mlruns")


def test_set_uri_and_uri_context(tmp_path):
    r = QlibRecorder(FileExpManager("file:" + str(tmp_path / "a"), "Experiment"))
    r.set_uri("file:" + str(tmp_path / "b"))
    assert r.get_uri().endswith("/b")
    with r.uri_context("file:" + str(tmp_path / "c")):
        assert r.get_uri().endswith("/c")
        r.get_exp(experiment_name="in-c")
    assert r.get_uri().endswith("/b")
    assert (tmp_path / "c" / "0" / "meta.yaml").exists()
    r.set_uri(None)
    assert r.get_uri() == "file:" + os.path.join(os.getcwd(), "mlruns")
