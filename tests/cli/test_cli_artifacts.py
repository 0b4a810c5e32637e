"""``litexp artifacts RUN_ID [PATH] [--download DST]``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from cli_support import failed, make_store, ok

import litexp


def _store(tmp_path: Path) -> tuple:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=1)
    rec = (
        litexp.FileExpManager("file:" + str(root), "Experiment")
        .get_exp(experiment_name="alpha", create=False)
        .get_recorder(recorder_id=ids[0])
    )
    (tmp_path / "notes.txt").write_text("abc")
    rec.log_artifact(str(tmp_path / "notes.txt"), "docs")
    return root, ids[0]


def test_list_all_or_under_a_path(tmp_path: Path) -> None:
    root, run_id = _store(tmp_path)
    rows = json.loads(ok("artifacts", run_id, "--uri", str(root), "--format", "json"))
    assert {(r["path"], r["is_dir"]) for r in rows} == {("docs", True), ("docs/notes.txt", False), ("pred", False)}
    assert next(r for r in rows if r["path"] == "docs/notes.txt")["size"] == 3
    under = json.loads(ok("artifacts", run_id, "docs", "--uri", str(root), "--format", "json"))
    assert [r["path"] for r in under] == ["docs/notes.txt"]


def test_download_one_or_all(tmp_path: Path) -> None:
    root, run_id = _store(tmp_path)
    one = ok("artifacts", run_id, "pred", "--download", str(tmp_path / "one"), "--uri", str(root)).strip()
    with open(one, "rb") as f:
        assert pickle.load(f) == [0, 1]
    ok("artifacts", run_id, "--download", str(tmp_path / "all"), "--uri", str(root))
    assert (tmp_path / "all" / "docs" / "notes.txt").read_text() == "abc" and (tmp_path / "all" / "pred").is_file()


def test_unknown_runs_and_paths_are_named(tmp_path: Path) -> None:
    root, run_id = _store(tmp_path)
    assert "'abc'" in failed("artifacts", "abc", "--uri", str(root))
    assert "missing.bin" in failed(
        "artifacts", run_id, "missing.bin", "--download", str(tmp_path / "x"), "--uri", str(root)
    )


def test_listing_a_missing_path_is_an_error(tmp_path: Path) -> None:
    root, run_id = _store(tmp_path)
    assert "'nope'" in failed("artifacts", run_id, "nope", "--uri", str(root))
    rows = json.loads(ok("artifacts", run_id, "docs/notes.txt", "--uri", str(root), "--format", "json"))
    assert rows == [{"path": "docs/notes.txt", "is_dir": False, "size": 3}]
