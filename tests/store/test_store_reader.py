"""The reader tolerates what real stores contain: it skips with a warning and lists the rest."""

from __future__ import annotations

import logging
import os

import pytest
import yaml

from litexp.store import FileStore


@pytest.fixture
def populated(store_dir):
    store = FileStore(str(store_dir))
    exp, _ = store.get_or_create_experiment("e")
    runs = []
    for i in range(3):
        run = store.create_run(exp.experiment_id, f"r{i}", "u", 1000 + i)
        store.log_batch(run.run_id, [("m", float(i), 1, 0)], {"p": str(i)}, {"t": "x"})
        runs.append(run)
    return store, exp, runs


def test_stray_folders_skipped_with_warning(populated, store_dir, caplog):
    store, exp, runs = populated
    (store_dir / ".ipynb_checkpoints").mkdir()
    (store_dir / exp.experiment_id / ".ipynb_checkpoints").mkdir()
    (store_dir / "notes").mkdir()
    with caplog.at_level(logging.WARNING, logger="litexp"):
        fresh = FileStore(str(store_dir))
        assert {e.name for e in fresh.list_experiments()} == {"Default", "e"}
        assert len(fresh.load_runs([exp.experiment_id])) == 3
    assert ".ipynb_checkpoints" in caplog.text and "notes" in caplog.text


def test_torn_and_bad_metric_lines(populated, caplog):
    store, exp, runs = populated
    path = os.path.join(store.run_folder(runs[0].run_id), "metrics", "m")
    with open(path, "a") as fh:
        fh.write("2000 5.0 3\n")
        fh.write("garbage line here now\n")
        fh.write("3000 9.0 4")  # torn: no newline
    with caplog.at_level(logging.WARNING, logger="litexp"):
        run = FileStore(store.root).get_run(runs[0].run_id)
        hist = store.get_metric_history(runs[0].run_id, "m")
    assert run.metrics["m"] == 5.0
    assert [p.value for p in hist] == [0.0, 5.0]
    assert "unreadable line" in caplog.text


def test_empty_metric_file_and_odd_keys_skipped(populated, caplog):
    store, exp, runs = populated
    run_dir = store.run_folder(runs[1].run_id)
    open(os.path.join(run_dir, "metrics", "empty"), "w").close()
    open(os.path.join(run_dir, "tags", "backup~"), "w").close()
    with caplog.at_level(logging.WARNING, logger="litexp"):
        run = FileStore(store.root).get_run(runs[1].run_id)
    assert "empty" not in run.metrics and "backup~" not in run.tags
    assert run.metrics["m"] == 1.0 and run.tags["t"] == "x"


def test_two_and_five_field_lines(populated):
    store, exp, runs = populated
    run_dir = store.run_folder(runs[2].run_id)
    with open(os.path.join(run_dir, "metrics", "legacy"), "w") as fh:
        fh.write("100 1.5\n")
    with open(os.path.join(run_dir, "metrics", "withdata"), "w") as fh:
        fh.write("100 2.5 7 train abc123\n")
    run = store.get_run(runs[2].run_id)
    assert run.metrics["legacy"] == 1.5 and run.metrics["withdata"] == 2.5


def test_missing_tags_folder(populated):
    store, exp, runs = populated
    import shutil

    shutil.rmtree(os.path.join(store.run_folder(runs[0].run_id), "tags"))
    run = store.get_run(runs[0].run_id)
    assert run.tags == {} and run.params == {"p": "0"}


def test_legacy_meta(populated):
    store, exp, runs = populated
    meta_path = os.path.join(store.run_folder(runs[0].run_id), "meta.yaml")
    meta = yaml.safe_load(open(meta_path))
    del meta["run_id"], meta["run_name"]
    meta["experiment_id"] = int(meta["experiment_id"])
    with open(meta_path, "w") as fh:
        yaml.safe_dump(meta, fh)
    run = FileStore(store.root).get_run(runs[0].run_id)
    assert run.run_id == runs[0].run_id and run.experiment_id == exp.experiment_id
    assert run.run_name == "r0"  # from the mlflow.runName tag


@pytest.mark.parametrize("content", ["", "a: [unclosed", "just text", "run_id: other\n"])
def test_damaged_run_meta_skipped_in_listing(populated, content, caplog):
    store, exp, runs = populated
    with open(os.path.join(store.run_folder(runs[0].run_id), "meta.yaml"), "w") as fh:
        fh.write(content)
    with caplog.at_level(logging.WARNING, logger="litexp"):
        listed = FileStore(store.root).load_runs([exp.experiment_id])
    assert sorted(r.run_id for r in listed) == sorted(r.run_id for r in runs[1:])
    assert "skipping run folder" in caplog.text


def test_damaged_run_meta_clear_error_on_direct_access(populated):
    store, exp, runs = populated
    with open(os.path.join(store.run_folder(runs[0].run_id), "meta.yaml"), "w") as fh:
        fh.write("a: [unclosed")
    from litexp import LitexpError

    with pytest.raises(LitexpError, match="damaged|cannot be read"):
        FileStore(store.root).get_run(runs[0].run_id)
    with pytest.raises(LitexpError, match="meta.yaml"):
        store.log_batch(runs[0].run_id, params={"x": 1})


def test_damaged_run_meta_is_a_store_corrupt_error_and_is_left_alone(populated):
    from litexp import StoreCorruptError

    store, exp, runs = populated
    path = os.path.join(store.run_folder(runs[0].run_id), "meta.yaml")
    with open(path, "w") as fh:
        fh.write("a: [unclosed")
    for call in (
        lambda: FileStore(store.root).get_run(runs[0].run_id),
        lambda: store.update_run(runs[0].run_id, "FINISHED", 1),
        lambda: store.delete_run(runs[0].run_id),
        lambda: store.log_batch(runs[0].run_id, params={"x": 1}),
    ):
        with pytest.raises(StoreCorruptError, match="meta.yaml.*Restore it from a backup|damaged"):
            call()
    with open(path) as fh:
        assert fh.read() == "a: [unclosed"  # nothing rewritten
    assert sorted(r.run_id for r in FileStore(store.root).load_runs([exp.experiment_id])) == sorted(
        r.run_id for r in runs[1:]
    )


def test_damaged_experiment_meta_skipped(populated, store_dir, caplog):
    store, exp, runs = populated
    with open(store_dir / exp.experiment_id / "meta.yaml", "w") as fh:
        fh.write(": :")
    with caplog.at_level(logging.WARNING, logger="litexp"):
        names = {e.name for e in FileStore(store.root).list_experiments()}
    assert names == {"Default"}


def test_reading_writes_nothing_without_index(populated, store_dir, monkeypatch):
    monkeypatch.setenv("LITEXP_INDEX", "0")
    store, exp, runs = populated

    def snapshot():
        return sorted((p, os.path.getmtime(p)) for p in map(str, store_dir.rglob("*")))

    before = snapshot()
    fresh = FileStore(store.root)
    fresh.list_experiments()
    fresh.load_runs([exp.experiment_id], 3)
    assert snapshot() == before


def test_no_temp_files_left(populated, store_dir):
    store, exp, runs = populated
    store.log_batch(runs[0].run_id, tags={"a/b": "1"})
    leftovers = [p for p in store_dir.rglob("*") if "litexp-tmp" in p.name]
    assert leftovers == []


def test_store_root_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    from litexp import LitexpError

    with pytest.raises(LitexpError, match="not a folder"):
        FileStore(str(target))
