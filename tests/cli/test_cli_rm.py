"""``litexp rm``: soft-delete runs (``--experiment``: experiments); every argument checked before
anything changes."""

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


def test_rm_deletes_runs_one_line_each(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=3)
    out = ok("rm", ids[0], ids[2], "--uri", str(root))
    lines = out.splitlines()
    assert len(lines) == 2 and ids[0] in lines[0] and ids[2] in lines[1] and "'alpha'" in lines[0]
    store = litexp.FileExpManager("file:" + str(root), "Experiment").store
    assert [store.get_run(i).lifecycle_stage for i in ids] == ["deleted", "active", "deleted"]
    assert store.get_run(ids[0]).deleted_time is not None
    active = json.loads(ok("runs", "alpha", "--uri", str(root), "--format", "json"))
    assert [r["run_id"] for r in active] == [ids[1]]
    again = ok("rm", ids[0], "--uri", str(root))
    assert "already deleted" in again and store.get_run(ids[0]).lifecycle_stage == "deleted"


def test_rm_unknown_ids_names_them_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    before = snapshot(root)
    unknown = "0123456789abcdef0123456789abcdef"
    err = failed("rm", ids[0], unknown, "not-a-run", "--uri", str(root))
    assert unknown in err and "not-a-run" in err and ids[0] not in err
    assert snapshot(root) == before


def test_rm_experiment_by_name_or_id(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    alpha = make_store(root, runs=2, experiment="alpha")
    make_store(root, runs=1, experiment="beta")
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    beta_id = manager.get_exp(experiment_name="beta", create=False).id
    out = ok("rm", "--experiment", "alpha", beta_id, "--uri", str(root))
    assert len(out.splitlines()) == 2 and "'alpha'" in out and beta_id in out
    deleted = json.loads(ok("experiments", "--uri", str(root), "--view", "deleted", "--format", "json"))
    assert sorted(r["name"] for r in deleted) == ["alpha", "beta"]
    assert {manager.store.get_run(i).lifecycle_stage for i in alpha} == {"deleted"}
    assert (root / ".trash" / beta_id / "meta.yaml").is_file()


def test_rm_experiment_unknown_or_default_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    before = snapshot(root)
    assert "'nosuch'" in failed("rm", "--experiment", "alpha", "nosuch", "--uri", str(root))
    assert "default experiment" in failed("rm", "--experiment", "alpha", "Default", "--uri", str(root))
    assert snapshot(root) == before
    assert "No store" in failed("rm", "0123456789abcdef0123456789abcdef", "--uri", str(tmp_path / "missing"))


def test_rm_and_restore_take_the_start_of_an_id(tmp_path: Path) -> None:
    from cli_support import make_store, ok

    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    assert ids[0] in ok("rm", ids[0][:8], "--uri", str(root))
    assert ids[0] in ok("restore", ids[0][:8], "--uri", str(root))
