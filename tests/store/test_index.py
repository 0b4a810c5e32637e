"""The search index never serves stale data, survives damage, and MLflow ignores it."""

from __future__ import annotations

import math
import os
import time

import pytest
from optional_support import requires
from hypothesis import given, settings
from hypothesis import strategies as st

from litexp.store import FileStore
from litexp.store.file.metric_lines import format_lines
from litexp.store.file.index import INDEX_FILE, DiskSource, IndexedSource

OLD = time.time() - 3600


def age(path):
    """Make a file look settled (changed long ago)."""
    os.utime(path, (OLD, OLD))


def age_tree(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            age(os.path.join(dirpath, name))
    age(root)


@pytest.fixture
def store(store_dir):
    s = FileStore(str(store_dir))
    exp, _ = s.get_or_create_experiment("e")
    for i in range(3):
        run = s.create_run(exp.experiment_id, f"r{i}", "u", 1000 + i)
        s.log_batch(run.run_id, [("m", float(i), 10, 0), ("m", float(i) + 0.5, 11, 1)], {"p": f"v{i}"}, {"t": "x"})
    age_tree(str(store_dir))
    return s, exp


def views(store, exp_id):
    return sorted((r.run_id, r.metrics, r.params, r.tags) for r in FileStore(store.root).load_runs([exp_id], 3))


def test_index_written_and_reused(store, store_dir):
    s, exp = store
    first = views(s, exp.experiment_id)
    assert (store_dir / exp.experiment_id / INDEX_FILE).is_file()
    assert views(s, exp.experiment_id) == first


def test_appended_metric_seen(store):
    s, exp = store
    views(s, exp.experiment_id)
    run = s.load_runs([exp.experiment_id])[0]
    s.log_batch(run.run_id, [("m", 99.0, 20, 5)])
    again = {r.run_id: r for r in FileStore(s.root).load_runs([exp.experiment_id])}
    assert again[run.run_id].metrics["m"] == 99.0


def test_same_size_rewrite_with_new_mtime_seen(store):
    s, exp = store
    views(s, exp.experiment_id)
    run = s.load_runs([exp.experiment_id])[0]
    path = os.path.join(s.run_folder(run.run_id), "tags", "t")
    with open(path, "w") as fh:
        fh.write("y")
    os.utime(path, (OLD + 5, OLD + 5))
    assert {r.run_id: r for r in FileStore(s.root).load_runs([exp.experiment_id])}[run.run_id].tags["t"] == "y"


def test_recent_changes_are_never_cached(store):
    s, exp = store
    run = s.load_runs([exp.experiment_id])[0]
    path = os.path.join(s.run_folder(run.run_id), "params", "p")
    fresh = FileStore(s.root)
    for value in ("a1", "b2", "c3"):  # same size, same second: only the racy rule protects this
        with open(path, "w") as fh:
            fh.write(value)
        got = {r.run_id: r for r in fresh.load_runs([exp.experiment_id])}[run.run_id].params["p"]
        assert got == value


def test_new_and_removed_runs_seen(store):
    s, exp = store
    views(s, exp.experiment_id)
    extra = s.create_run(exp.experiment_id, "new", "u", 5000)
    assert extra.run_id in {r.run_id for r in FileStore(s.root).load_runs([exp.experiment_id])}
    s.delete_run(extra.run_id)
    assert extra.run_id not in {r.run_id for r in FileStore(s.root).load_runs([exp.experiment_id])}


@pytest.mark.parametrize("junk", [b"", b"{not json", b'{"version": 99, "entries": {}}', b'{"version": 1, "entries": []}'])
def test_damaged_index_is_rebuilt(store, store_dir, junk):
    s, exp = store
    expected = views(s, exp.experiment_id)
    (store_dir / exp.experiment_id / INDEX_FILE).write_bytes(junk)
    assert views(s, exp.experiment_id) == expected


def test_mlflow_ignores_the_index(store, store_dir):
    s, exp = store
    views(s, exp.experiment_id)
    mlflow = requires("mlflow", "MLflow's own reader must ignore the index file")
    client = mlflow.tracking.MlflowClient(tracking_uri="file:" + str(store_dir))
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 3 and all(r.data.params["p"].startswith("v") for r in runs)


point = st.tuples(
    st.integers(0, 5),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, float("nan")])),
    st.integers(0, 3),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(point, min_size=1, max_size=6), min_size=1, max_size=5))
def test_incremental_latest_equals_full_parse(tmp_path_factory, chunks):
    folder = tmp_path_factory.mktemp("idx")
    path = os.path.join(folder, "m")
    indexed = IndexedSource(str(folder), persist=False)
    for n, chunk in enumerate(chunks):
        with open(path, "ab") as fh:
            fh.write(format_lines(chunk))
        t = OLD + n
        os.utime(path, (t, t))
        indexed.begin()
        got, _ = indexed.latest(path)
        indexed.save()
        want, _ = DiskSource().latest(path)
        assert got[0] == want[0] and got[2] == want[2]
        assert (math.isnan(got[1]) and math.isnan(want[1])) or got[1] == want[1]


def test_growing_file_is_parsed_incrementally(tmp_path):
    path = str(tmp_path / "m")
    with open(path, "wb") as fh:
        fh.write(format_lines([(1, 1.0, 1)] * 1000))
    age(path)
    indexed = IndexedSource(str(tmp_path), persist=False)
    indexed.latest(path)
    indexed.save()
    entry = indexed.entries["l:m"]
    assert entry[1][2] == os.path.getsize(path)  # consumed offset remembered
    with open(path, "ab") as fh:
        fh.write(format_lines([(2, 5.0, 2)]))
    os.utime(path, (OLD + 10, OLD + 10))
    indexed.begin()
    assert indexed.latest(path)[0] == (2, 5.0, 2)
    # a rewrite (not an append) is detected by the changed bytes before the old end
    with open(path, "wb") as fh:
        fh.write(format_lines([(9, 0.0, 0)] * 1001 + [(3, 7.0, 1)]))
    os.utime(path, (OLD + 20, OLD + 20))
    indexed.save()
    indexed.begin()
    assert indexed.latest(path)[0] == (3, 7.0, 1)
