"""``litexp.push`` / ``litexp.pull`` and the ``push`` / ``pull`` verbs between two file stores:
the copy reads back equal, a second copy changes nothing, a grown run sends only what is new,
``--dry-run`` writes nothing, bad URIs exit 2, and a second copy at the same time exits cleanly."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from cli_support import stderr_on_a_terminal

import litexp
from litexp import FileExpManager, QlibRecorder
from litexp._sync import SOURCE_TAG, STATE_TAG, SyncReport, _one_copy_at_a_time
from litexp.store.uri import canonical_uri

OWN = (SOURCE_TAG, STATE_TAG)


def _write(root: Path, runs: int = 3, points: int = 20) -> Dict[str, str]:
    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    ids = {}
    for r in range(runs):
        with R.start(experiment_name="alpha", recorder_name=f"run {r}"):
            R.log_params(lr=r / 10, model="lgb")
            for i in range(points):
                R.log_metrics(step=i, loss=1.0 / (i + 1), ic=float(r))
            R.set_tags(seed=str(r))
            R.save_objects(pred=[r, r], artifact_path="objects")
            ids[f"run {r}"] = R.get_recorder().id
    with R.start(experiment_name="beta", recorder_name="other"):
        R.log_metrics(step=0, score=0.5)
    return ids


def _view(root: Path) -> Dict[str, Any]:
    """Every run by (experiment, run name): info, data, full histories and artifacts."""
    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    out: Dict[str, Any] = {}
    for name, exp in R.list_experiments().items():
        for rec in exp.list_recorders(rtype=exp.RT_L):
            artifacts = sorted(rec.list_artifacts("objects"))
            out[f"{name}/{rec.name}"] = {
                "status": rec.status,
                "times": (rec.start_time, rec.end_time),
                "params": rec.list_params(),
                "tags": {k: v for k, v in rec.list_tags().items() if k not in OWN},
                "metrics": rec.list_metrics(),
                "history": {
                    k: [(p.step, p.value, p.timestamp) for p in rec.get_metric_history(k)] for k in rec.list_metrics()
                },
                "artifacts": artifacts,
                "pred": rec.load_object("objects/pred") if artifacts else None,
            }
    return out


def _quiet_push(source: Path, target: Path, **kwargs: Any) -> SyncReport:
    return litexp.push("file:" + str(source), "file:" + str(target), progress=None, **kwargs)


def test_a_copy_reads_back_equal_to_its_source(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    report = _quiet_push(tmp_path / "src", tmp_path / "dst")
    assert report.ok and report.runs_created == 4 and report.points == 3 * 40 + 1 and report.artifacts == 3
    assert _view(tmp_path / "dst") == _view(tmp_path / "src")


def test_a_second_copy_changes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    _quiet_push(tmp_path / "src", tmp_path / "dst")
    before = _view(tmp_path / "dst")
    again = _quiet_push(tmp_path / "src", tmp_path / "dst")
    assert (again.runs_unchanged, again.runs_created, again.runs_updated, again.points) == (4, 0, 0, 0)
    assert _view(tmp_path / "dst") == before


def test_a_grown_run_sends_only_what_is_new(tmp_path: Path) -> None:
    ids = _write(tmp_path / "src")
    _quiet_push(tmp_path / "src", tmp_path / "dst")
    R = QlibRecorder(FileExpManager("file:" + str(tmp_path / "src"), "Experiment"))
    with R.start(experiment_name="alpha", recorder_id=ids["run 1"], resume=True):
        R.log_metrics(step=20, loss=0.01)
        R.set_tags(grown="yes")
    report = _quiet_push(tmp_path / "src", tmp_path / "dst")
    assert (report.runs_updated, report.runs_unchanged, report.points, report.tags) == (1, 3, 1, 1)
    assert _view(tmp_path / "dst") == _view(tmp_path / "src")


def test_pull_is_the_same_copy_the_other_way(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    report = litexp.pull("file:" + str(tmp_path / "src"), str(tmp_path / "laptop"), experiments=["beta"], progress=None)
    assert report.runs_created == 1
    assert list(_view(tmp_path / "laptop")) == ["beta/other"]


def test_experiment_and_filter_limit_the_copy(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    report = _quiet_push(tmp_path / "src", tmp_path / "dst", experiments=["alpha"], filter_string="params.lr = '0.2'")
    assert report.runs_seen == 1
    assert list(_view(tmp_path / "dst")) == ["alpha/run 2"]


def test_dry_run_says_what_would_be_copied_and_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    out = io.StringIO()
    report = litexp.push(str(tmp_path / "src"), str(tmp_path / "dst"), dry_run=True, progress=out)
    assert report.runs_created == 4 and report.points == 121
    assert "dry run, would copy: 4 runs: 4 created" in out.getvalue()
    assert not (tmp_path / "dst").exists()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "litexp", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, LITEXP_SPOOL_DIR=str(cwd / "spool")),
        timeout=120,
    )


def test_cli_push_prints_a_summary_and_bad_uris_exit_2(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    done = _cli("push", "--uri", "src", "--to", "dst", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 runs: 4 created" in done.stderr and not done.stdout
    quiet = _cli("push", "--uri", "src", "--to", "dst", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    bad = _cli("push", "--uri", "src", "--to", "ftp://example.org/x", cwd=tmp_path)
    assert bad.returncode == 2 and "ftp" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli("pull", "--from", "nowhere", "--uri", "dst", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    unknown = _cli("push", "--uri", "src", "--to", "dst", "--experiment", "gamma", cwd=tmp_path)
    assert unknown.returncode == 2 and "gamma" in unknown.stderr


def test_a_second_copy_at_the_same_time_exits_cleanly(tmp_path: Path) -> None:
    _write(tmp_path / "src", runs=1)
    env_dir = tmp_path / "spool"
    os.environ["LITEXP_SPOOL_DIR"] = str(env_dir)
    try:
        with _one_copy_at_a_time(
            canonical_uri(str(tmp_path / "src")), canonical_uri(str(tmp_path / "dst")), wait=False
        ):
            second = _cli("push", "--uri", "src", "--to", "dst", cwd=tmp_path)
    finally:
        del os.environ["LITEXP_SPOOL_DIR"]
    assert second.returncode == 0 and "Another copy" in second.stderr
    assert not (tmp_path / "dst").exists()


def _files(root: Path) -> list:
    """Every file with its size and mtime, but the search index (which any search may refresh)."""
    return sorted(
        (p.relative_to(root), p.stat().st_mtime_ns, p.stat().st_size)
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".litexp-index")
    )


def test_the_source_is_not_written(tmp_path: Path) -> None:
    _write(tmp_path / "src")
    before = _files(tmp_path / "src")
    _quiet_push(tmp_path / "src", tmp_path / "dst")
    assert _files(tmp_path / "src") == before


def test_same_source_and_target_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "src", runs=1)
    with pytest.raises(litexp.InvalidInputError, match="same store"):
        litexp.push(str(tmp_path / "src"), "file:" + str(tmp_path / "src"), progress=None)


def test_on_a_terminal_a_progress_line_is_redrawn(tmp_path: Path) -> None:
    _write(tmp_path / "src", runs=2)
    code, _, text = stderr_on_a_terminal(
        "push", "--uri", "src", "--to", "dst", cwd=tmp_path, env={"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}
    )
    assert code == 0
    assert "\r" in text and "runs 1/3" in text and "ETA" in text and "runs/s" in text and "\x1b[K" in text
    assert "3 runs: 3 created" in text


def test_a_deleted_run_arrives_deleted_even_after_a_stop_before_the_delete(tmp_path: Path) -> None:
    ids = _write(tmp_path / "src", runs=2)
    R = QlibRecorder(FileExpManager("file:" + str(tmp_path / "src"), "Experiment"))
    R.get_exp(experiment_name="alpha", create=False).delete_recorder(recorder_id=ids["run 0"])
    _quiet_push(tmp_path / "src", tmp_path / "dst")
    dst = litexp.store.open_store("file:" + str(tmp_path / "dst"))
    copy = next(
        r
        for r in dst.load_runs([e.experiment_id for e in dst.list_experiments()], 3)
        if r.tags.get(SOURCE_TAG, "").endswith(ids["run 0"])
    )
    assert copy.lifecycle_stage == "deleted"
    dst.restore_run(copy.run_id)  # as if the push had stopped between its state tag and the delete
    again = _quiet_push(tmp_path / "src", tmp_path / "dst")
    assert again.runs_updated == 1 and again.points == 0
    assert dst.get_run(copy.run_id).lifecycle_stage == "deleted"
