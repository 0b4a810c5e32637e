"""``litexp restore``: undo ``litexp rm`` for runs and (``--experiment``) experiments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from cli_support import failed, make_store, ok

import litexp


def snapshot(root: Path) -> Dict[str, bytes]:
    """Every file of a store (litexp's lock and index files aside) with its content."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".litexp" not in p.name
    }


def test_rm_then_restore_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    ok("rm", *ids, "--uri", str(root))
    assert json.loads(ok("runs", "alpha", "--uri", str(root), "--format", "json")) == []
    out = ok("restore", *ids, "--uri", str(root))
    assert len(out.splitlines()) == 2 and all(i in out for i in ids) and "restored" in out
    store = litexp.FileExpManager("file:" + str(root), "Experiment").store
    for run_id in ids:
        run = store.get_run(run_id)
        assert run.lifecycle_stage == "active" and run.deleted_time is None and run.status == "FINISHED"
    assert sorted(
        r["run_id"] for r in json.loads(ok("runs", "alpha", "--uri", str(root), "--format", "json"))
    ) == sorted(ids)
    assert "is not deleted" in ok("restore", ids[0], "--uri", str(root))


def test_restore_experiment_brings_its_runs_back(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    exp_id = manager.get_exp(experiment_name="alpha", create=False).id
    ok("rm", "--experiment", exp_id, "--uri", str(root))
    out = ok("restore", "--experiment", "alpha", "--uri", str(root))
    assert "restored experiment 'alpha'" in out and exp_id in out
    assert (root / exp_id / "meta.yaml").is_file() and not (root / ".trash" / exp_id).exists()
    assert {manager.store.get_run(i).lifecycle_stage for i in ids} == {"active"}


def test_restore_unknown_or_trashed_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    ok("rm", ids[0], "--uri", str(root))
    before = snapshot(root)
    unknown = "fedcba9876543210fedcba9876543210"
    err = failed("restore", ids[0], unknown, "--uri", str(root))
    assert unknown in err and ids[0] not in err
    assert "'nosuch'" in failed("restore", "--experiment", "alpha", "nosuch", "--uri", str(root))
    assert snapshot(root) == before
    ok("rm", "--experiment", "alpha", "--uri", str(root))
    before = snapshot(root)
    err = failed("restore", ids[1], "--uri", str(root))
    assert "restore --experiment" in err and ids[1] in err
    assert snapshot(root) == before
