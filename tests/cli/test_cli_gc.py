"""``litexp gc``: deleted runs and deleted experiments removed for good, as ``mlflow gc`` does."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Dict, List

import yaml
from cli_support import cli, failed, make_store, ok
from optional_support import requires

import litexp
from litexp._gc import format_bytes
from litexp.store import FileStore

DAY_MS = 24 * 3600 * 1000


def snapshot(root: Path) -> Dict[str, bytes]:
    """Every file of a store (litexp's lock and index files aside) with its content."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".litexp" not in p.name
    }


def age_meta(meta: Path, key: str, days: float) -> None:
    """Set a time stamp of a meta.yaml to ``days`` ago."""
    data = yaml.safe_load(meta.read_text())
    data[key] = int(time.time() * 1000 - days * DAY_MS)
    meta.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=True))


def indexed(index: Path) -> List[str]:
    """The run ids an experiment's search index holds rows for."""
    with sqlite3.connect(str(index)) as db:
        return [row[0] for row in db.execute("SELECT run_id FROM runs")]


def store_with_garbage(root: Path) -> Dict[str, List[str]]:
    """alpha: 3 runs, 2 deleted; beta: 2 runs, deleted as an experiment; gamma: 1 active run."""
    alpha = make_store(root, runs=3, experiment="alpha")
    beta = make_store(root, runs=2, experiment="beta")
    gamma = make_store(root, runs=1, experiment="gamma")
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    for run_id in alpha[:2]:
        manager.store.delete_run(run_id)
    manager.delete_exp(experiment_name="beta")
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def test_dry_run_lists_and_removes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = store_with_garbage(root)
    before = snapshot(root)
    done = cli("gc", "--dry-run", "--uri", str(root), "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert sorted((r["kind"], r["run_id"]) for r in rows if r["kind"] == "run") == sorted(
        ("run", i) for i in ids["alpha"][:2] + ids["beta"]
    )
    assert [r["name"] for r in rows if r["kind"] == "experiment"] == ["beta"]
    assert all(r["bytes"] > 0 and os.path.exists(r["path"]) for r in rows)
    assert "would remove 4 runs and 1 experiment" in done.stderr
    table = ok("gc", "--dry-run", "--uri", str(root))
    assert table.splitlines()[0].split()[:3] == ["kind", "experiment_id", "run_id"]
    assert "would remove 4 runs and 1 experiment" in table.splitlines()[-1]
    assert snapshot(root) == before


def test_gc_removes_deleted_runs_and_trashed_experiments_only(tmp_path: Path) -> None:
    mlflow = requires("mlflow", "the store after gc must read in MLflow")
    root = tmp_path / "mlruns"
    ids = store_with_garbage(root)
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    alpha_id = manager.get_exp(experiment_name="alpha", create=False).id
    gamma_id = manager.get_exp(experiment_name="gamma", create=False).id
    for path in root.rglob("*"):  # settled files: the search below writes index rows for them
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    manager.search_records([alpha_id], run_view_type=3)
    index = root / alpha_id / ".litexp-index.sqlite"
    assert sorted(indexed(index)) == sorted(ids["alpha"])
    live = (f"{alpha_id}/{ids['alpha'][2]}/", f"{gamma_id}/", f"{alpha_id}/meta.yaml", "0/")
    kept = {k: v for k, v in snapshot(root).items() if k.startswith(live)}
    out = ok("gc", "--uri", str(root))
    assert "removed 4 runs and 1 experiment" in out.splitlines()[-1]
    after = snapshot(root)
    assert {k: after.get(k) for k in kept} == kept  # active data untouched, byte for byte
    assert set(after) == set(kept)  # and nothing else is left
    assert os.listdir(root / ".trash") == []
    assert indexed(index) == [ids["alpha"][2]]
    assert not any((root / alpha_id / r).exists() for r in ids["alpha"][:2])
    assert ok("gc", "--uri", str(root)).splitlines() == ["nothing to remove", "removed 0 runs and 0 experiments (0 B)"]

    rows = json.loads(ok("runs", "--all", "--view", "all", "--uri", str(root), "--format", "json"))
    assert sorted(r["run_id"] for r in rows) == sorted([ids["alpha"][2]] + ids["gamma"])
    client = mlflow.tracking.MlflowClient("file:" + str(root))
    experiments = client.search_experiments(view_type=3)
    assert sorted(e.name for e in experiments) == ["Default", "alpha", "gamma"]
    seen = [r.info.run_id for e in experiments for r in client.search_runs([e.experiment_id], run_view_type=3)]
    assert sorted(seen) == sorted([ids["alpha"][2]] + ids["gamma"])
    assert client.get_run(ids["alpha"][2]).data.metrics["ic"] > 0


def test_older_than_respects_deletion_times(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = store_with_garbage(root)
    make_store(root, runs=1, experiment="delta")
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    alpha_id = manager.get_exp(experiment_name="alpha", create=False).id
    beta_id = manager.store.find_experiment("beta").experiment_id
    manager.delete_exp(experiment_name="delta")
    age_meta(root / alpha_id / ids["alpha"][0] / "meta.yaml", "deleted_time", days=3)
    age_meta(root / ".trash" / beta_id / "meta.yaml", "last_update_time", days=3)

    assert "nothing to remove" in ok("gc", "--older-than", "4d", "--uri", str(root))
    rows = json.loads(ok("gc", "--older-than", "2d12h", "--uri", str(root), "--format", "json"))
    assert sorted(r["run_id"] for r in rows if r["kind"] == "run") == sorted([ids["alpha"][0]] + ids["beta"])
    assert [r["experiment_id"] for r in rows if r["kind"] == "experiment"] == [beta_id]
    assert manager.store.get_run(ids["alpha"][1]).lifecycle_stage == "deleted"  # deleted just now: kept
    assert manager.store.find_experiment("delta").lifecycle_stage == "deleted"
    assert "removed 2 runs and 1 experiment" in ok("gc", "--older-than", "0s", "--uri", str(root)).splitlines()[-1]
    assert "'soon'" in failed("gc", "--older-than", "soon", "--uri", str(root))


def test_runs_deleted_by_mlflow_are_collected(tmp_path: Path) -> None:
    mlflow = requires("mlflow", "runs deleted by MLflow's own client")
    root = tmp_path / "mlruns"
    alpha = make_store(root, runs=2, experiment="alpha")
    beta = make_store(root, runs=1, experiment="beta")
    client = mlflow.tracking.MlflowClient("file:" + str(root))
    client.delete_run(alpha[0])
    client.delete_experiment(client.get_experiment_by_name("beta").experiment_id)
    elsewhere = tmp_path / "artifacts"
    exp_id = client.create_experiment("outside", artifact_location=elsewhere.as_uri())
    r = litexp.QlibRecorder(litexp.FileExpManager("file:" + str(root), "Experiment"))
    with r.start(experiment_name="outside"):
        r.save_objects(model={"w": 1})
        outside = r.get_recorder().id
    assert (elsewhere / outside / "artifacts" / "model").is_file()
    client.delete_run(outside)

    rows = json.loads(ok("gc", "--uri", str(root), "--format", "json"))
    assert sorted(r["run_id"] for r in rows if r["kind"] == "run") == sorted([alpha[0], beta[0], outside])
    assert {r["kind"] for r in rows} == {"run", "experiment", "artifacts"}
    assert not (elsewhere / outside).exists() and not (root / exp_id / outside).exists()
    assert [
        r.info.run_id
        for r in client.search_runs([client.get_experiment_by_name("alpha").experiment_id], run_view_type=3)
    ] == [alpha[1]]
    assert [e.name for e in client.search_experiments(view_type=2)] == []


def test_an_interrupted_removal_is_finished(tmp_path: Path) -> None:
    from litexp.store.file.purge import MARKER

    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    manager.store.delete_run(ids[0])
    run_dir = Path(manager.store.run_folder(ids[0]))
    (run_dir / "meta.yaml").rename(run_dir / MARKER)  # a gc cut short after marking the run
    assert [
        r["run_id"] for r in json.loads(ok("runs", "alpha", "--view", "all", "--uri", str(root), "--format", "json"))
    ] == [ids[1]]
    rows = json.loads(ok("gc", "--dry-run", "--uri", str(root), "--format", "json"))
    assert [(r["kind"], r["run_id"]) for r in rows] == [("run", ids[0])]
    ok("gc", "--uri", str(root))
    assert not run_dir.exists() and manager.store.get_run(ids[1]).lifecycle_stage == "active"


def test_gc_refuses_a_server_and_unknown_experiments(tmp_path: Path) -> None:
    err = failed("gc", "--uri", "http://127.0.0.1:9")
    assert "mlflow gc --backend-store-uri" in err
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    assert "'nosuch'" in failed("gc", "--experiment", "nosuch", "--uri", str(root))


def test_a_run_restored_or_deleted_again_meanwhile_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=3)
    store = litexp.FileExpManager("file:" + str(root), "Experiment").store
    for run_id in ids:
        store.delete_run(run_id)
        age_meta(Path(store.run_folder(run_id)) / "meta.yaml", "deleted_time", days=3)
    other = FileStore(str(root))  # another writer of the same store

    def meanwhile(done: int, total: object) -> None:  # after gc listed the runs, before it removes them
        if done == 0:
            other.restore_run(ids[0])
            other.restore_run(ids[1])
            other.delete_run(ids[1])  # deleted again: now it was deleted just now

    report = litexp.gc("file:" + str(root), older_than="1d", progress=meanwhile)
    assert [(i.kind, i.run_id) for i in report.items] == [("run", ids[2])]
    assert len(report.kept) == 2 and ids[0] in report.kept[0] + report.kept[1]
    assert store.get_run(ids[0]).lifecycle_stage == "active" and store.get_run(ids[1]).lifecycle_stage == "deleted"
    assert (
        report.summary()
        == f"removed 1 run and 0 experiments ({format_bytes(report.bytes)}); kept 2 that changed meanwhile"
    )
