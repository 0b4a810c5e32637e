"""``litexp ui``: MLflow's UI on a file store (tests/interop/test_ui_serving.py serves one); a server's
own UI is named, a missing store is an error."""

from __future__ import annotations

from pathlib import Path

from cli_support import cli


def test_a_server_uri_names_its_ui(tmp_path: Path) -> None:
    done = cli("ui", "--uri", "http://127.0.0.1:5999")
    assert done.returncode == 0 and "http://127.0.0.1:5999/" in done.stdout


def test_a_missing_store_is_one_line(tmp_path: Path) -> None:
    done = cli("ui", "--uri", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "no store at" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "nowhere").exists()
