"""The search index (one SQLite file per experiment) never changes what a search returns.

Every check compares a search through the index with the same search under
``LITEXP_INDEX=0`` (every file read: the ground truth), after the store changed
the way concurrent writers, other hosts, damage or a read-only mount change it.
Files are made to look settled (changed an hour ago) so that the index really is
used; a change made "now" falls in the racy window, which is never cached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import time
import traceback
import types

import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optional_support import requires

from litexp import FileExpManager, QlibRecorder
from litexp.store import FileStore
from litexp.store.file.metric_lines import format_lines

INDEX_FILE = ".litexp-index.sqlite"  # the documented name in the experiment folder
OLD = time.time() - 3600
ALL, ACTIVE = 3, 1
FILTER = "metrics.m > 0.5 and params.p = 'x'"
ORDER = ["metrics.m DESC"]


# ---------------------------------------------------------------------------- helpers
def age(path, t=OLD):
    """Make a file or folder look settled (changed long ago)."""
    os.utime(path, (t, t), follow_symlinks=False)


def age_tree(root, t=OLD):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            age(os.path.join(dirpath, name), t)
    age(root, t)


def canon(records):
    """Records as comparable data (floats by repr, so NaN equals NaN), sorted by run id."""
    out = []
    for r in records:
        d = dataclasses.asdict(r)
        d["metrics"] = sorted((k, repr(v)) for k, v in r.metrics.items())
        d["params"] = sorted(r.params.items())
        d["tags"] = sorted(r.tags.items())
        out.append(d)
    return sorted(out, key=lambda d: d["run_id"])


def search(root, exp_ids, view=ALL):
    """A search through the index, by a new store object (nothing remembered in memory)."""
    return canon(FileStore(str(root)).load_runs([str(e) for e in exp_ids], view))


def truth(root, exp_ids, view=ALL):
    """The same search reading every file (``LITEXP_INDEX=0``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITEXP_INDEX", "0")
        return search(root, exp_ids, view)


def differences(got, want):
    """What an indexed result gets wrong, run by run and field by field (for failure messages)."""
    got, want = {d["run_id"]: d for d in got}, {d["run_id"]: d for d in want}
    out = []
    for run_id in sorted(set(got) | set(want)):
        if run_id not in got or run_id not in want:
            out.append(f"run {run_id}: {'only in the index' if run_id in got else 'missing from the index'}")
            continue
        for name in want[run_id]:
            if got[run_id][name] != want[run_id][name]:
                out.append(f"run {run_id} {name}: indexed {got[run_id][name]!r}, files say {want[run_id][name]!r}")
    return "\n".join(out)


def check(root, exp_ids):
    """Indexed searches equal the ground truth (all runs, active runs); the indexed result by id."""
    for view in (ACTIVE, ALL):
        got = search(root, exp_ids, view)
        want = truth(root, exp_ids, view)
        assert got == want, "the indexed search differs from reading every file:\n" + differences(got, want)
    return {d["run_id"]: d for d in got}


def frame(root, exp_ids, **kwargs):
    R = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    df = R.search_records([str(e) for e in exp_ids], **kwargs)
    return df.reindex(sorted(df.columns), axis=1)


def check_frame(root, exp_ids, **kwargs):
    """``R.search_records`` through the index equals the same query under ``LITEXP_INDEX=0``."""
    got = frame(root, exp_ids, **kwargs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LITEXP_INDEX", "0")
        want = frame(root, exp_ids, **kwargs)
    pdt.assert_frame_equal(got, want)
    return got


def index_rows(path):
    db = sqlite3.connect(str(path))
    try:
        return sorted(db.execute("SELECT run_id, data FROM runs"))
    finally:
        db.close()


def cache_name(exp_dir):
    return hashlib.sha256(os.path.realpath(str(exp_dir)).encode()).hexdigest()[:32] + ".sqlite"


def index_files(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith(INDEX_FILE))


def tree_state(root):
    """Every file and folder below root with its signature (to prove nothing was written)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            s = os.lstat(path)
            state[os.path.relpath(path, root)] = (s.st_mtime_ns, s.st_size, s.st_ino)
    return state


def replace_same_size(path, data, scratch):
    """Rewrite a file with other content of the same size as a new inode, restoring the old
    mtime of the file and of its folder (only the inode tells the change)."""
    before, folder = os.stat(path), os.stat(os.path.dirname(path))
    assert len(data) == before.st_size and open(path, "rb").read() != data
    tmp = os.path.join(str(scratch), "replacement")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(tmp, path)
    os.utime(os.path.dirname(path), ns=(folder.st_atime_ns, folder.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert after.st_ino != before.st_ino


def rewrite_in_place(path, data, mtime_ns=None):
    with open(path, "r+b") as fh:
        fh.write(data)
        fh.truncate()
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def append(path, data, mtime_ns=None):
    with open(path, "ab") as fh:
        fh.write(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def restore_folder_mtime(path, sig):
    os.utime(path, ns=(sig.st_atime_ns, sig.st_mtime_ns))


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _index_env(tmp_path, monkeypatch):
    """Default index places; the per-host cache lives under tmp_path."""
    monkeypatch.delenv("LITEXP_INDEX", raising=False)
    monkeypatch.delenv("LITEXP_INDEX_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _build(root, scratch):
    s = FileStore(str(root))
    exp, _ = s.get_or_create_experiment("e")
    other, _ = s.get_or_create_experiment("e2")
    runs = []
    for i in range(3):
        run = s.create_run(exp.experiment_id, f"r{i}", "u", 1000 + i, tags={"grp/k": f"g{i}"})
        s.log_batch(
            run.run_id,
            [("m", float(i), 10, 0), ("m", float(i) + 0.5, 11, 1)]
            + [("long", float(n), 100000 + n, n) for n in range(20)],
            {"p": "y" if i == 1 else "x", "lr": f"0.{i}"},
            {"t": f"v{i}"},
        )
        runs.append(run.run_id)
    lone = s.create_run(other.experiment_id, "o0", "u", 2000)
    s.log_batch(lone.run_id, [("m", 3.0, 10, 0)], {"p": "x"}, {"t": "w"})
    age_tree(str(root))
    ns = types.SimpleNamespace(
        s=s,
        root=str(root),
        exp=exp.experiment_id,
        exp2=other.experiment_id,
        runs=runs,
        lone=lone.run_id,
        exp_dir=os.path.join(str(root), exp.experiment_id),
        exp2_dir=os.path.join(str(root), other.experiment_id),
        scratch=str(scratch),
    )
    ns.run_dir = lambda run_id: s.run_folder(run_id)
    ns.file = lambda run_id, *parts: os.path.join(s.run_folder(run_id), *parts)
    ns.both = [ns.exp, ns.exp2]
    return ns


@pytest.fixture
def store(store_dir, tmp_path):
    """Two experiments: ``e`` with three settled runs (r1 has p='y'), ``e2`` with one."""
    return _build(store_dir, tmp_path)


# ---------------------------------------------------------------------------- 1. where, and reuse
def test_index_file_at_documented_place_and_reused(store, tmp_path):
    first = check(store.root, [store.exp])
    path = os.path.join(store.exp_dir, INDEX_FILE)
    assert os.path.isfile(path)
    assert index_files(store.exp_dir) == [INDEX_FILE]  # no -wal/-shm once closed
    assert not (tmp_path / "xdg").exists()
    rows = index_rows(path)
    assert [run_id for run_id, _ in rows] == sorted(store.runs)
    # a second search by a new store object: same results, rows not rewritten
    assert check(store.root, [store.exp]) == first
    check_frame(store.root, [store.exp])
    check_frame(store.root, [store.exp], filter_string=FILTER, order_by=ORDER)
    assert index_rows(path) == rows
    # each experiment has its own file
    check(store.root, store.both)
    assert index_files(store.exp2_dir) == [INDEX_FILE]
    assert [r for r, _ in index_rows(os.path.join(store.exp2_dir, INDEX_FILE))] == [store.lone]
    assert index_rows(path) == rows


def test_index_dir_setting_places_one_file_per_experiment(store, tmp_path, monkeypatch):
    where = tmp_path / "idx"
    monkeypatch.setenv("LITEXP_INDEX_DIR", str(where))
    check(store.root, store.both)
    assert sorted(os.listdir(where)) == sorted([cache_name(store.exp_dir), cache_name(store.exp2_dir)])
    assert index_files(store.exp_dir) == [] and index_files(store.exp2_dir) == []
    path = where / cache_name(store.exp_dir)
    rows = index_rows(path)
    assert [r for r, _ in rows] == sorted(store.runs)
    # the same store through a symlink: the same index (named by the real path), rows unchanged
    link = tmp_path / "link"
    link.symlink_to(store.root)
    assert search(link, [store.exp]) == truth(link, [store.exp])
    assert sorted(os.listdir(where)) == sorted([cache_name(store.exp_dir), cache_name(store.exp2_dir)])
    assert index_rows(path) == rows


# ---------------------------------------------------------------------------- 2. concurrent writers
def _metric_appended_recent(st_):
    st_.s.log_batch(st_.runs[0], [("m", 7.0, 20, 2)])
    return lambda got: got[st_.runs[0]]["metrics"][1] == ("m", "7.0")


def _metric_appended_settled(st_):
    st_.s.log_batch(st_.runs[0], [("m", 7.0, 20, 2)])
    age(st_.file(st_.runs[0], "metrics", "m"), OLD + 10)
    return lambda got: ("m", "7.0") in got[st_.runs[0]]["metrics"]


def _metric_appended_same_mtime(st_):
    # a 1-second file system: the append leaves the mtime as it was; only the size tells
    path = st_.file(st_.runs[0], "metrics", "long")
    append(path, format_lines([(200000, 42.0, 99)]), os.stat(path).st_mtime_ns)
    return lambda got: ("long", "42.0") in got[st_.runs[0]]["metrics"]


def _metric_appended_same_second(st_):
    path = st_.file(st_.runs[1], "metrics", "long")
    append(path, format_lines([(200000, 43.0, 99)]), os.stat(path).st_mtime_ns + 1)
    return lambda got: ("long", "43.0") in got[st_.runs[1]]["metrics"]


def _metric_short_append(st_):
    path = st_.file(st_.runs[2], "metrics", "long")
    data = format_lines([(9, 2.5, 120)])
    assert len(data) < 32
    append(path, data, int((OLD + 10) * 1e9))
    return lambda got: ("long", "2.5") in got[st_.runs[2]]["metrics"]


def _metric_short_append_to_short_file(st_):
    path = st_.file(st_.runs[0], "metrics", "m")
    assert os.path.getsize(path) < 32
    append(path, format_lines([(9, 4.5, 7)]), int((OLD + 10) * 1e9))
    return lambda got: ("m", "4.5") in got[st_.runs[0]]["metrics"]


def _metric_rewritten_same_size_new_inode(st_):
    path = st_.file(st_.runs[0], "metrics", "m")
    data = open(path, "rb").read()
    replace_same_size(path, data.replace(b" 0.5 ", b" 0.7 "), st_.scratch)
    return lambda got: ("m", "0.7") in got[st_.runs[0]]["metrics"]


def _param_rewritten_same_size_new_inode(st_):
    replace_same_size(st_.file(st_.runs[0], "params", "lr"), b"0.9", st_.scratch)
    return lambda got: ("lr", "0.9") in got[st_.runs[0]]["params"]


def _tag_rewritten_same_size_new_inode(st_):
    replace_same_size(st_.file(st_.runs[1], "tags", "t"), b"zz", st_.scratch)
    return lambda got: ("t", "zz") in got[st_.runs[1]]["tags"]


def _nested_tag_rewritten_same_size_new_inode(st_):
    replace_same_size(st_.file(st_.runs[2], "tags", "grp", "k"), b"h2", st_.scratch)
    return lambda got: ("grp/k", "h2") in got[st_.runs[2]]["tags"]


def _meta_rewritten_same_size_new_inode(st_):
    path = st_.file(st_.runs[0], "meta.yaml")
    data = open(path, "rb").read()
    assert b"\nstatus: 1\n" in data
    replace_same_size(path, data.replace(b"\nstatus: 1\n", b"\nstatus: 3\n"), st_.scratch)
    return lambda got: got[st_.runs[0]]["status"] == "FINISHED"


def _file_deleted(st_):
    folder = st_.file(st_.runs[0], "metrics")
    sig = os.stat(folder)
    os.remove(os.path.join(folder, "long"))
    restore_folder_mtime(folder, sig)  # only the remembered file's stat tells
    return lambda got: "long" not in dict(got[st_.runs[0]]["metrics"])


def _tag_deleted(st_):
    st_.s.delete_tag(st_.runs[1], "t")
    age(st_.file(st_.runs[1], "tags"), OLD + 10)
    return lambda got: "t" not in dict(got[st_.runs[1]]["tags"])


def _param_added_recent(st_):
    st_.s.log_batch(st_.runs[0], [], {"new": "1"})
    return lambda got: ("new", "1") in got[st_.runs[0]]["params"]


def _param_added_settled(st_):
    st_.s.log_batch(st_.runs[0], [], {"new": "1"})
    age(st_.file(st_.runs[0], "params", "new"), OLD + 10)
    age(st_.file(st_.runs[0], "params"), OLD + 10)
    return lambda got: ("new", "1") in got[st_.runs[0]]["params"]


def _nested_key_added(st_):
    st_.s.log_batch(st_.runs[0], [("a/b", 5.0, 10, 0)], {}, {"a/b": "nested"})
    for sub in ("metrics", "tags"):
        age_tree(st_.file(st_.runs[0], sub), OLD + 10)
    return lambda got: ("a/b", "5.0") in got[st_.runs[0]]["metrics"] and ("a/b", "nested") in got[st_.runs[0]]["tags"]


def _nested_key_added_to_existing_folder(st_):
    st_.s.log_batch(st_.runs[1], [], {}, {"grp/k2": "more"})
    age_tree(st_.file(st_.runs[1], "tags", "grp"), OLD + 10)  # only tags/grp changed
    return lambda got: ("grp/k2", "more") in got[st_.runs[1]]["tags"]


def _nested_key_removed(st_):
    st_.s.delete_tag(st_.runs[2], "grp/k")
    age_tree(st_.file(st_.runs[2], "tags"), OLD + 10)
    return lambda got: "grp/k" not in dict(got[st_.runs[2]]["tags"])


def _nested_folder_removed(st_):
    tags = st_.file(st_.runs[2], "tags")
    shutil.rmtree(os.path.join(tags, "grp"))
    age(tags, OLD + 10)
    return lambda got: "grp/k" not in dict(got[st_.runs[2]]["tags"])


def _run_folder_deleted(st_):
    shutil.rmtree(st_.run_dir(st_.runs[1]))
    return lambda got: st_.runs[1] not in got


def _run_folder_deleted_settled(st_):
    shutil.rmtree(st_.run_dir(st_.runs[1]))
    age(st_.exp_dir, OLD + 10)
    return lambda got: st_.runs[1] not in got


def _run_added(st_):
    run = st_.s.create_run(st_.exp, "new", "u", 5000)
    st_.s.log_batch(run.run_id, [("m", 9.0, 1, 0)], {"p": "x"})
    age_tree(st_.run_dir(run.run_id), OLD + 10)
    return lambda got: ("m", "9.0") in got[run.run_id]["metrics"]


def _run_deleted_api(st_):
    st_.s.delete_run(st_.runs[0])
    return lambda got: got[st_.runs[0]]["lifecycle_stage"] == "deleted"


def _status_changed_api(st_):
    st_.s.update_run(st_.runs[2], "FINISHED", 5000)
    age(st_.file(st_.runs[2], "meta.yaml"), OLD + 10)
    return lambda got: (got[st_.runs[2]]["status"], got[st_.runs[2]]["end_time"]) == ("FINISHED", 5000)


def _move(st_, rewrite_meta):
    run_id = st_.runs[0]
    src = st_.run_dir(run_id)
    dst = os.path.join(st_.exp2_dir, run_id)
    os.rename(src, dst)
    if rewrite_meta:
        path = os.path.join(dst, "meta.yaml")
        data = open(path, "rb").read()
        old, new = f"experiment_id: '{st_.exp}'".encode(), f"experiment_id: '{st_.exp2}'".encode()
        assert old in data
        with open(path, "wb") as fh:
            fh.write(data.replace(old, new))
        age(path, OLD + 10)
    return run_id


def _run_moved_to_other_experiment(st_):
    run_id = _move(st_, rewrite_meta=True)
    return lambda got: got[run_id]["experiment_id"] == st_.exp2 and ("p", "x") in got[run_id]["params"]


def _run_moved_meta_not_rewritten(st_):
    run_id = _move(st_, rewrite_meta=False)
    return lambda got: run_id not in got  # its meta.yaml names another experiment: skipped


def _metric_truncated_in_place(st_):
    path = st_.file(st_.runs[0], "metrics", "long")
    rewrite_in_place(path, format_lines([(100000, 3.25, 0)]), int((OLD + 10) * 1e9))
    return lambda got: ("long", "3.25") in got[st_.runs[0]]["metrics"]


def _metric_tail_rewritten_and_grown_in_place(st_):
    # same inode, grown: but the bytes before the old end changed, so it is no append
    path = st_.file(st_.runs[1], "metrics", "long")
    data = open(path, "rb").read()
    assert data.endswith(b" 19.0 19\n")
    rewrite_in_place(
        path, data[: -len(b" 19.0 19\n")] + b" 91.0 19\n" + format_lines([(1, -1.0, 0)]), int((OLD + 10) * 1e9)
    )
    return lambda got: ("long", "91.0") in got[st_.runs[1]]["metrics"]


def _meta_damaged(st_):
    path = st_.file(st_.runs[0], "meta.yaml")
    with open(path, "w") as fh:
        fh.write("status: [")
    age(path, OLD + 10)
    return lambda got: st_.runs[0] not in got


def _tag_long_unicode_value(st_):
    st_.s.log_batch(st_.runs[1], [], {}, {"t": "é" * 100 + "\nline two"})
    age_tree(st_.file(st_.runs[1], "tags"), OLD + 10)
    return lambda got: ("t", "é" * 100 + "\nline two") in got[st_.runs[1]]["tags"]


def _run_deleted_then_restored(st_):
    st_.s.delete_run(st_.runs[1])
    assert check(st_.root, st_.both)[st_.runs[1]]["lifecycle_stage"] == "deleted"
    st_.s.restore_run(st_.runs[1])
    age(st_.file(st_.runs[1], "meta.yaml"), OLD + 10)
    return lambda got: got[st_.runs[1]]["lifecycle_stage"] == "active"


def _run_folder_replaced_by_copy(st_):
    # a run restored from a copy (cp -a): same mtimes and sizes, new inodes, one tag differs
    src = st_.run_dir(st_.runs[2])
    copy = os.path.join(st_.scratch, "copy-of-run")
    shutil.copytree(src, copy, copy_function=shutil.copy2)
    tag = os.path.join(copy, "tags", "t")
    sig = os.stat(tag)
    rewrite_in_place(tag, b"c2", sig.st_mtime_ns)
    shutil.copystat(src, copy)
    shutil.rmtree(src)
    os.rename(copy, src)
    return lambda got: ("t", "c2") in got[st_.runs[2]]["tags"]


def _experiment_deleted(st_):
    st_.s.delete_experiment(st_.exp)
    return lambda got: set(st_.runs) <= set(got)


CHANGES = [
    _metric_truncated_in_place,
    _metric_tail_rewritten_and_grown_in_place,
    _meta_damaged,
    _tag_long_unicode_value,
    _run_deleted_then_restored,
    _run_folder_replaced_by_copy,
    _experiment_deleted,
    _metric_appended_recent,
    _metric_appended_settled,
    _metric_appended_same_mtime,
    _metric_appended_same_second,
    _metric_short_append,
    _metric_short_append_to_short_file,
    _metric_rewritten_same_size_new_inode,
    _param_rewritten_same_size_new_inode,
    _tag_rewritten_same_size_new_inode,
    _nested_tag_rewritten_same_size_new_inode,
    _meta_rewritten_same_size_new_inode,
    _file_deleted,
    _tag_deleted,
    _param_added_recent,
    _param_added_settled,
    _nested_key_added,
    _nested_key_added_to_existing_folder,
    _nested_key_removed,
    _nested_folder_removed,
    _run_folder_deleted,
    _run_folder_deleted_settled,
    _run_added,
    _run_deleted_api,
    _status_changed_api,
    _run_moved_to_other_experiment,
    _run_moved_meta_not_rewritten,
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.__name__.strip("_") for c in CHANGES])
def test_change_after_indexing_is_seen(store, change):
    check(store.root, store.both)  # both indexes built
    check(store.root, [store.exp])
    expect = change(store)
    got = check(store.root, store.both)
    assert expect(got)
    for exp in store.both:
        check(store.root, [exp])
    # a store object kept across the change answers the same
    assert canon(store.s.load_runs(store.both, ALL)) == truth(store.root, store.both)
    check_frame(store.root, store.both)
    check_frame(store.root, store.both, filter_string=FILTER, order_by=ORDER)
    # and again, now that the index has taken the change in
    assert check(store.root, store.both) == got


_STATUS = {3: "FINISHED", 4: "FAILED", 5: "KILLED"}


@pytest.mark.parametrize("kind", ["param", "tag", "metric", "meta", "tag_future_mtime"])
def test_rewrite_in_the_racy_window_is_never_cached(store, kind):
    """Same size, same inode, mtime restored: only never caching recent files protects this."""
    run_id = store.runs[0]
    check(store.root, [store.exp])  # indexed while settled
    future = kind == "tag_future_mtime"  # another host's clock is ahead: not settled either
    if future:
        kind = "tag"
    if kind == "param":
        path, values = store.file(run_id, "params", "lr"), [b"a1", b"b2", b"c3"]
        seen = lambda d, n: ("lr", values[n].decode()) in d["params"]  # noqa: E731
    elif kind == "tag":
        path, values = store.file(run_id, "tags", "t"), [b"a1", b"b2", b"c3"]
        seen = lambda d, n: ("t", values[n].decode()) in d["tags"]  # noqa: E731
    elif kind == "metric":
        path, values = store.file(run_id, "metrics", "m"), [b"1 1.5 1\n", b"1 2.5 1\n", b"1 3.5 1\n"]
        seen = lambda d, n: ("m", values[n].split()[1].decode()) in d["metrics"]  # noqa: E731
    else:
        path = store.file(run_id, "meta.yaml")
        data = open(path, "rb").read()
        assert b"\nstatus: 1\n" in data
        values = [data.replace(b"\nstatus: 1\n", f"\nstatus: {code}\n".encode()) for code in _STATUS]
        seen = lambda d, n: d["status"] == list(_STATUS.values())[n]  # noqa: E731
    ino = os.stat(path).st_ino
    for n in range(len(values)):
        # written now (within the racy window) and searched at once: the index may not remember it
        rewrite_in_place(path, values[n], time.time_ns() + 3600 * 10**9 if future else None)
        stamp = os.stat(path).st_mtime_ns
        assert seen({d["run_id"]: d for d in search(store.root, [store.exp])}[run_id], n)
        # rewritten in place, same size, mtime restored: indistinguishable by stat, and still seen
        following = (n + 1) % len(values)
        rewrite_in_place(path, values[following], stamp)
        assert (os.stat(path).st_mtime_ns, os.stat(path).st_ino) == (stamp, ino)
        got = check(store.root, [store.exp])
        assert seen(got[run_id], following)


def test_recent_run_folder_and_files_never_cached(store):
    """A run being written now: every search sees its latest state, whatever the order of writes."""
    run = store.s.create_run(store.exp, "busy", "u", 3000)
    for i in range(5):
        store.s.log_batch(run.run_id, [("m", float(i), 100 + i, i)], {f"p{i}": "v"}, {"t": f"{i}"})
        got = check(store.root, [store.exp])
        assert ("m", repr(float(i))) in got[run.run_id]["metrics"] and ("t", str(i)) in got[run.run_id]["tags"]


# ---- real concurrency: 4 logging processes, 2 searching processes
def _writer(root, exp_name, k, existing, toggle, ready, results):
    try:
        os.environ["LITEXP_SYNC_LOGGING"] = "1" if k % 2 else "0"
        for event in ready:
            if not event.wait(120):
                raise RuntimeError("searchers never started")
        R = QlibRecorder(FileExpManager("file:" + root, "Experiment"))
        store = FileStore(root)
        with R.start(experiment_name=exp_name, recorder_name=f"w{k}"):
            R.log_params(writer=str(k))
            for i in range(40):
                R.log_metrics(step=i, m=float(i) / 10, loss=1.0 / (i + 1))
                R.set_tags(progress=str(i))
                if existing:
                    store.log_batch(existing, [(f"w{k}", float(i), 1000 + i, i)], {}, {f"seen{k}": str(i)})
                if toggle and i % 10 == 5:
                    store.delete_run(toggle) if i % 20 == 5 else store.restore_run(toggle)
                time.sleep(0.05)
        results.put(("ok", k))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def _searcher(root, exp_id, k, ready, stop, results):
    count = 0
    try:
        R = QlibRecorder(FileExpManager("file:" + root, "Experiment"))
        while not stop.is_set() or count < 3:
            FileStore(root).load_runs([exp_id], ALL)
            R.search_records(
                [exp_id], filter_string="metrics.m > 1 and params.writer != '0'", order_by=["metrics.m DESC"]
            )
            count += 1
            ready.set()
        results.put(("ok", count))
    except BaseException:
        ready.set()
        results.put(("error", traceback.format_exc()))


def test_concurrent_writers_and_searchers(store):
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    stop = ctx.Event()
    ready = [ctx.Event(), ctx.Event()]
    searchers = [
        ctx.Process(target=_searcher, args=(store.root, store.exp, k, ready[k], stop, results)) for k in range(2)
    ]
    writers = [
        ctx.Process(
            target=_writer,
            args=(store.root, "e", k, store.runs[k % 2], store.runs[2] if k == 3 else None, ready, results),
        )
        for k in range(4)
    ]
    try:
        for p in searchers + writers:
            p.start()
        for p in writers:
            p.join(300)
        stop.set()
        for p in searchers:
            p.join(300)
        reports = [results.get(timeout=60) for _ in range(6)]
    finally:
        stop.set()
        for p in searchers + writers:
            if p.is_alive():
                p.kill()
                p.join()
    errors = [r[1] for r in reports if r[0] != "ok"]
    assert not errors, "\n".join(errors)
    assert all(p.exitcode == 0 for p in searchers + writers)
    got = check(store.root, [store.exp])
    writers_seen = [d for d in got.values() if ("progress", "39") in d["tags"]]
    assert len(writers_seen) == 4
    for k in range(4):
        assert ("seen%d" % k, "39") in got[store.runs[k % 2]]["tags"]
    check_frame(store.root, [store.exp], filter_string=FILTER, order_by=ORDER)
    # once everything is settled: an index built now, then reused
    age_tree(store.root, OLD + 100)
    check(store.root, [store.exp])
    rows = index_rows(os.path.join(store.exp_dir, INDEX_FILE))
    assert len(rows) == 7
    assert check(store.root, [store.exp]) == got
    assert index_rows(os.path.join(store.exp_dir, INDEX_FILE)) == rows


def test_many_runs_across_write_batches(store):
    """More runs than one write batch: changes and removals in every batch are seen."""
    ids = []
    for i in range(300):
        run = store.s.create_run(store.exp, f"b{i}", "u", 10000 + i)
        store.s.log_batch(run.run_id, [("m", float(i), 10, 0)], {"p": "x"}, {"t": "a"})
        ids.append(run.run_id)
    age_tree(store.root)
    check(store.root, [store.exp])
    assert len(index_rows(os.path.join(store.exp_dir, INDEX_FILE))) == 303
    for n, run_id in enumerate(ids[::37]):
        store.s.log_batch(run_id, [("m", 1000.0 + n, 20, 1)])
        age(store.file(run_id, "metrics", "m"), OLD + 10)
    for run_id in ids[5::61]:
        shutil.rmtree(store.run_dir(run_id))
    got = check(store.root, [store.exp])
    assert all(("m", repr(1000.0 + n)) in got[r]["metrics"] for n, r in enumerate(ids[::37]) if r in got)
    assert not set(ids[5::61]) & set(got)
    rows = index_rows(os.path.join(store.exp_dir, INDEX_FILE))
    assert sorted(r for r, _ in rows) == sorted(got)
    check_frame(store.root, [store.exp], filter_string="metrics.m > 200 and params.p = 'x'", order_by=ORDER)
    assert index_rows(os.path.join(store.exp_dir, INDEX_FILE)) == rows


def test_search_stopped_early_then_full(store):
    """A caller that stops reading after the first run leaves a usable index."""
    it = FileStore(store.root).iter_runs([store.exp], ALL)
    next(it)
    it.close()
    store.s.log_batch(store.runs[2], [("m", 33.0, 80, 80)])
    age(store.file(store.runs[2], "metrics", "m"), OLD + 10)
    it = FileStore(store.root).iter_runs([store.exp], ALL)
    next(it)
    it.close()
    got = check(store.root, [store.exp])
    assert ("m", "33.0") in got[store.runs[2]]["metrics"]


def test_store_copied_with_its_index(store, tmp_path):
    """cp -a / rsync -a of a store, index included: same mtimes and sizes, other inodes."""
    check(store.root, store.both)
    copy = tmp_path / "copy"
    shutil.copytree(store.root, copy, copy_function=shutil.copy2, symlinks=True)
    assert (copy / store.exp / INDEX_FILE).is_file()
    copied = FileStore(str(copy))
    for run_id in store.runs:  # same size, same mtime, in place: only the inode tells the copy's files apart
        tag = os.path.join(copied.run_folder(run_id), "tags", "t")
        rewrite_in_place(tag, b"k" + open(tag, "rb").read()[1:], os.stat(tag).st_mtime_ns)
    got = check(copy, store.both)
    assert all(dict(got[run_id]["tags"])["t"].startswith("k") for run_id in store.runs)
    check(store.root, store.both)


def test_unusable_index_dir_only_costs_speed(store, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"x")
    for where in (blocker, blocker / "below"):
        monkeypatch.setenv("LITEXP_INDEX_DIR", str(where))
        check(store.root, store.both)
        check_frame(store.root, store.both, filter_string=FILTER, order_by=ORDER)
    assert blocker.read_bytes() == b"x"


def test_old_json_index_is_ignored_and_removed(store):
    old = os.path.join(store.exp_dir, ".litexp-index.json")
    with open(old, "w") as fh:
        fh.write('{"version": 1, "entries": {"bogus": 1}}')
    check(store.root, [store.exp])
    assert not os.path.exists(old)


# ---------------------------------------------------------------------------- 3. damage
def _real_user_version(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def _new_db(path, *statements):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path)
    try:
        for sql in statements:
            db.execute(sql)
        db.commit()
    finally:
        db.close()


def _damage(kind, path, st_):
    version = _real_user_version(path)
    if kind == "zero_bytes":
        open(path, "wb").close()
    elif kind == "random_junk":
        with open(path, "wb") as fh:
            fh.write(random.Random(7).randbytes(20000))
    elif kind == "first_half":
        data = open(path, "rb").read()
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
    elif kind == "sqlite_header_then_junk":
        data = open(path, "rb").read()
        with open(path, "wb") as fh:
            fh.write(data[:100] + random.Random(3).randbytes(len(data) - 100))
    elif kind == "foreign_database":
        _new_db(path, "CREATE TABLE things (x INTEGER)", "INSERT INTO things VALUES (1)")
    elif kind == "other_user_version":
        rows = index_rows(path)
        _new_db(
            path,
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, data BLOB NOT NULL)",
            f"PRAGMA user_version = {version + 1}",
        )
        db = sqlite3.connect(path)
        db.executemany("INSERT INTO runs VALUES (?, ?)", [(r, b"\x00\xff" + d[2:]) for r, d in rows])
        db.commit()
        db.close()
    elif kind == "same_user_version_other_schema":
        _new_db(
            path,
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, other INTEGER)",
            f"INSERT INTO runs VALUES ('{st_.runs[0]}', 1)",
            f"PRAGMA user_version = {version}",
        )
    elif kind == "same_user_version_no_table":
        _new_db(path, "CREATE TABLE other (x)", f"PRAGMA user_version = {version}")
    elif kind in ("garbage_row", "truncated_row", "empty_row", "swapped_rows"):
        db = sqlite3.connect(path)
        if kind == "garbage_row":
            db.execute("UPDATE runs SET data = x'00ff00ff00ff' WHERE run_id = ?", (st_.runs[0],))
        elif kind == "truncated_row":
            db.execute("UPDATE runs SET data = substr(data, 1, length(data) / 2) WHERE run_id = ?", (st_.runs[0],))
        elif kind == "empty_row":
            db.execute("UPDATE runs SET data = x'' WHERE run_id = ?", (st_.runs[0],))
        else:  # each run gets the row of another
            rows = dict(db.execute("SELECT run_id, data FROM runs"))
            a, b, c = st_.runs
            db.executemany("UPDATE runs SET data = ? WHERE run_id = ?", [(rows[b], a), (rows[c], b), (rows[a], c)])
        db.commit()
        db.close()
    elif kind == "wal_garbage":
        with open(path + "-wal", "wb") as fh:
            fh.write(random.Random(5).randbytes(70000))
    elif kind == "shm_garbage":
        with open(path + "-shm", "wb") as fh:
            fh.write(random.Random(6).randbytes(32768))
    else:  # pragma: no cover
        raise AssertionError(kind)


DAMAGE = [
    "zero_bytes",
    "random_junk",
    "first_half",
    "sqlite_header_then_junk",
    "foreign_database",
    "other_user_version",
    "same_user_version_other_schema",
    "same_user_version_no_table",
    "garbage_row",
    "truncated_row",
    "empty_row",
    "swapped_rows",
    "wal_garbage",
    "shm_garbage",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_index_is_rebuilt(store, kind):
    path = os.path.join(store.exp_dir, INDEX_FILE)
    expected = check(store.root, [store.exp])
    assert len(index_rows(path)) == 3
    _damage(kind, path, store)
    # the store changed meanwhile too: a damaged index must not hide that
    store.s.log_batch(store.runs[1], [("m", 8.0, 30, 3)])
    age(store.file(store.runs[1], "metrics", "m"), OLD + 10)
    got = check(store.root, [store.exp])
    assert ("m", "8.0") in got[store.runs[1]]["metrics"]
    assert {k: v for k, v in got.items() if k != store.runs[1]} == {
        k: v for k, v in expected.items() if k != store.runs[1]
    }
    check_frame(store.root, [store.exp], filter_string=FILTER, order_by=ORDER)
    # usable again: the rows are there, every row decodes to the truth, and they are kept
    check(store.root, [store.exp])
    rows = index_rows(path)
    assert [r for r, _ in rows] == sorted(store.runs)
    assert not any(d.startswith(b"\x00\xff") for _, d in rows)
    assert check(store.root, [store.exp]) == got
    assert index_rows(path) == rows


def test_busy_index_is_skipped(store):
    """Another process holds the index's write lock for the whole search: it still answers."""
    path = os.path.join(store.exp_dir, INDEX_FILE)
    check(store.root, [store.exp])
    store.s.log_batch(store.runs[0], [("m", 6.0, 40, 4)])
    age(store.file(store.runs[0], "metrics", "m"), OLD + 10)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("DELETE FROM runs")  # uncommitted
        got = search(store.root, [store.exp])
        assert got == truth(store.root, [store.exp])
        assert ("m", "6.0") in {d["run_id"]: d for d in got}[store.runs[0]]["metrics"]
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    check(store.root, [store.exp])


# ---------------------------------------------------------------------------- 4. read-only store
@pytest.fixture
def read_only(tmp_path):
    """Bind-mount a folder read-only (root only); unmounted afterwards."""
    mounted = []

    def mount(src):
        if os.geteuid() != 0:
            pytest.skip("needs root to bind-mount the store read-only")
        dst = tmp_path / f"ro{len(mounted)}"
        dst.mkdir()
        done = subprocess.run(["mount", "-o", "bind,ro", str(src), str(dst)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot bind-mount read-only: {done.stderr.decode(errors='replace')}")
        mounted.append(dst)
        try:  # older kernels ignore ro on the first bind
            open(dst / ".probe", "wb").close()
        except OSError:
            pass
        else:
            os.remove(dst / ".probe")
            subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], check=True)
        with pytest.raises(OSError):
            open(dst / ".probe", "wb").close()
        return dst

    try:
        yield mount
    finally:
        for dst in reversed(mounted):
            subprocess.run(["umount", str(dst)], check=False)


def test_read_only_store_with_index_dir(store, tmp_path, monkeypatch, read_only):
    where = tmp_path / "idx"
    monkeypatch.setenv("LITEXP_INDEX_DIR", str(where))
    before = tree_state(store.root)
    ro = read_only(store.root)
    ro_exp = os.path.join(str(ro), store.exp)
    got = check(ro, store.both)
    assert got == {d["run_id"]: d for d in truth(store.root, store.both)}  # same runs as the writable view
    check_frame(ro, [store.exp], filter_string=FILTER, order_by=ORDER)
    path = where / cache_name(ro_exp)
    assert path.is_file()
    rows = index_rows(path)
    assert [r for r, _ in rows] == sorted(store.runs)
    assert check(ro, store.both) == got
    assert index_rows(path) == rows
    assert tree_state(store.root) == before  # nothing written in the store
    # a change by a writer (through the writable path) is seen through the read-only one
    store.s.log_batch(store.runs[0], [("m", 5.5, 50, 5)], {}, {"t": "changed"})
    age_tree(store.run_dir(store.runs[0]), OLD + 10)
    got = check(ro, [store.exp])
    assert ("m", "5.5") in got[store.runs[0]]["metrics"] and ("t", "changed") in got[store.runs[0]]["tags"]


def test_read_only_store_without_index_dir_uses_the_cache(store, tmp_path, read_only):
    before = tree_state(store.root)
    ro = read_only(store.root)
    check(ro, store.both)
    check_frame(ro, store.both, filter_string=FILTER, order_by=ORDER)
    assert tree_state(store.root) == before
    cached = tmp_path / "xdg" / "litexp" / "index" / cache_name(os.path.join(str(ro), store.exp))
    assert cached.is_file()
    assert [r for r, _ in index_rows(cached)] == sorted(store.runs)


def test_read_only_store_with_existing_index_in_experiment_folder(store, tmp_path, read_only):
    check(store.root, store.both)  # index written in each experiment folder while writable
    path = os.path.join(store.exp_dir, INDEX_FILE)
    content = open(path, "rb").read()
    ro = read_only(store.root)
    before = tree_state(store.root)
    got = check(ro, store.both)
    assert tree_state(store.root) == before
    # the index in the folder is now stale: a writer changes files through the writable path
    store.s.log_batch(store.runs[0], [("m", 5.5, 50, 5)], {}, {"t": "changed"})
    age_tree(store.run_dir(store.runs[0]), OLD + 10)
    replace_same_size(store.file(store.runs[1], "params", "lr"), b"0.8", store.scratch)
    shutil.rmtree(store.run_dir(store.runs[2]))
    got = check(ro, store.both)
    assert ("m", "5.5") in got[store.runs[0]]["metrics"] and ("t", "changed") in got[store.runs[0]]["tags"]
    assert ("lr", "0.8") in got[store.runs[1]]["params"]
    assert store.runs[2] not in got
    check_frame(ro, store.both, filter_string=FILTER, order_by=ORDER)
    assert open(path, "rb").read() == content  # the folder's index was not touched


# ---------------------------------------------------------------------------- 5. two hosts
def _host_loop(conn, index_dir):
    os.environ["LITEXP_INDEX_DIR"] = index_dir
    os.environ.pop("LITEXP_INDEX", None)
    while True:
        message = conn.recv()
        if message is None:
            return
        name, args = message
        try:
            conn.send(("ok", globals()[name](*args)))
        except BaseException:
            conn.send(("error", traceback.format_exc()))


def _host_search(root, exp_ids):
    return {d["run_id"]: d for d in search(root, exp_ids)}


def _host_truth(root, exp_ids):
    return {d["run_id"]: d for d in truth(root, exp_ids)}


def _host_change(root, run_changed, run_deleted, value, stamp):
    s = FileStore(root)
    s.log_batch(run_changed, [("m", value, 60, 60)], {}, {"t": f"host{value}"})
    s.delete_run(run_deleted)
    for path in (s.run_folder(run_changed), s.run_folder(run_deleted)):
        age_tree(path, stamp)
    return None


class _Host:
    def __init__(self, ctx, index_dir):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_host_loop, args=(child, str(index_dir)))
        self.proc.start()

    def __call__(self, name, *args):
        self.conn.send((name, args))
        status, value = self.conn.recv()
        assert status == "ok", value
        return value

    def close(self):
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(60)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def test_two_hosts_with_their_own_index_dirs(store, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    dir_a, dir_b = tmp_path / "host_a", tmp_path / "host_b"
    extra = store.s.create_run(store.exp, "r3", "u", 1003)
    store.s.log_batch(extra.run_id, [("m", 0.25, 10, 0)], {"p": "x"}, {"t": "v3"})
    age_tree(store.root)
    a, b = _Host(ctx, dir_a), _Host(ctx, dir_b)
    try:
        first = a("_host_search", store.root, store.both)
        assert first == a("_host_truth", store.root, store.both)
        assert b("_host_search", store.root, store.both) == first
        assert (dir_a / cache_name(store.exp_dir)).is_file() and (dir_b / cache_name(store.exp_dir)).is_file()
        assert index_files(store.exp_dir) == []
        # B changes files; A's index was built before: A sees B's changes
        b("_host_change", store.root, store.runs[0], store.runs[1], 11.0, OLD + 20)
        got = a("_host_search", store.root, store.both)
        assert got == a("_host_truth", store.root, store.both)
        assert ("m", "11.0") in got[store.runs[0]]["metrics"] and ("t", "host11.0") in got[store.runs[0]]["tags"]
        assert got[store.runs[1]]["lifecycle_stage"] == "deleted"
        assert b("_host_search", store.root, store.both) == got
        # and vice versa
        a("_host_change", store.root, store.runs[2], extra.run_id, 12.0, OLD + 30)
        got = b("_host_search", store.root, store.both)
        assert got == b("_host_truth", store.root, store.both)
        assert ("m", "12.0") in got[store.runs[2]]["metrics"] and ("t", "host12.0") in got[store.runs[2]]["tags"]
        assert got[extra.run_id]["lifecycle_stage"] == "deleted"
        assert a("_host_search", store.root, store.both) == got
        # a run folder removed by one host
        shutil.rmtree(store.run_dir(store.runs[0]))
        got = a("_host_search", store.root, store.both)
        assert store.runs[0] not in got and got == a("_host_truth", store.root, store.both)
        assert b("_host_search", store.root, store.both) == got
    finally:
        a.close()
        b.close()
    assert index_files(store.exp_dir) == []


# ---------------------------------------------------------------------------- 6. the filtered query
def test_filtered_query_after_changes(store):
    root, exp = store.root, [store.exp]
    r0, r1, r2 = store.runs

    def ids(df):
        return list(df["run_id"])

    assert ids(check_frame(root, exp, filter_string=FILTER, order_by=ORDER)) == [r2]
    check(root, exp)
    # only r0's selected metric changes: it now matches, the others are read from the index
    store.s.log_batch(r0, [("m", 0.9, 20, 5)])
    age(store.file(r0, "metrics", "m"), OLD + 10)
    assert ids(check_frame(root, exp, filter_string=FILTER, order_by=ORDER)) == [r2, r0]
    # r2's selected param changes (same size, new inode, old mtime): it drops out
    replace_same_size(store.file(r2, "params", "p"), b"z", store.scratch)
    assert ids(check_frame(root, exp, filter_string=FILTER, order_by=ORDER)) == [r0]
    # r1's param becomes 'x': it comes in first (m = 1.5)
    replace_same_size(store.file(r1, "params", "p"), b"x", store.scratch)
    assert ids(check_frame(root, exp, filter_string=FILTER, order_by=ORDER)) == [r1, r0]
    # a file the filter does not select changes: the full rows of the picked runs show it
    replace_same_size(store.file(r0, "tags", "t"), b"w0", store.scratch)
    df = check_frame(root, exp, filter_string=FILTER, order_by=ORDER)
    assert list(df["tags.t"]) == ["v1", "w0"]
    # the order metric of one run changes within the racy window
    store.s.log_batch(r1, [("m", 0.6, 30, 9)])
    assert ids(check_frame(root, exp, filter_string=FILTER, order_by=ORDER)) == [r0, r1]
    check(root, exp)
    check_frame(root, exp)


def test_filtered_query_first_then_full_search(store):
    """A filtered query writes rows of only the keys it read; a full search then reads the rest."""
    root, exp = store.root, [store.exp]
    check_frame(root, exp, filter_string=FILTER, order_by=ORDER)
    assert len(index_rows(os.path.join(store.exp_dir, INDEX_FILE))) == 3
    replace_same_size(store.file(store.runs[2], "tags", "t"), b"u2", store.scratch)
    store.s.log_batch(store.runs[2], [("long", 77.0, 300000, 300)], {"late": "1"})
    age_tree(store.run_dir(store.runs[2]), OLD + 10)
    got = check(root, exp)
    assert ("t", "u2") in got[store.runs[2]]["tags"] and ("long", "77.0") in got[store.runs[2]]["metrics"]
    assert ("late", "1") in got[store.runs[2]]["params"]
    check_frame(root, exp)
    check_frame(root, exp, filter_string="params.lr = '0.2' and metrics.long > 50", order_by=["params.lr"])
    check_frame(root, exp, filter_string=FILTER, order_by=ORDER)
    assert check(root, exp) == got


# ---------------------------------------------------------------------------- 7. deleting / turning off
def test_deleting_the_index_loses_nothing(store):
    path = os.path.join(store.exp_dir, INDEX_FILE)
    check(store.root, [store.exp])
    for n in range(3):
        for name in index_files(store.exp_dir):
            os.remove(os.path.join(store.exp_dir, name))
        store.s.log_batch(store.runs[n], [("m", 20.0 + n, 70, 70)])
        age(store.file(store.runs[n], "metrics", "m"), OLD + 10 + n)
        got = check(store.root, [store.exp])
        assert ("m", repr(20.0 + n)) in got[store.runs[n]]["metrics"]
        assert [r for r, _ in index_rows(path)] == sorted(store.runs)
    check_frame(store.root, [store.exp], filter_string=FILTER, order_by=ORDER)


def test_index_off_writes_no_index_file(store_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LITEXP_INDEX", "0")
    st_ = _build(store_dir, tmp_path)
    for index_dir in (None, tmp_path / "idx"):
        if index_dir is not None:
            monkeypatch.setenv("LITEXP_INDEX_DIR", str(index_dir))
        FileStore(st_.root).load_runs(st_.both, ALL)
        frame(st_.root, st_.both)
        frame(st_.root, st_.both, filter_string=FILTER, order_by=ORDER)
        written = [str(p) for p in tmp_path.rglob("*.sqlite*")]
        assert written == []
        assert not (tmp_path / "xdg").exists() and not (tmp_path / "idx").exists()
    # turning it on again later just builds it
    monkeypatch.delenv("LITEXP_INDEX")
    monkeypatch.delenv("LITEXP_INDEX_DIR")
    check(st_.root, st_.both)
    assert index_files(st_.exp_dir) == [INDEX_FILE]


# ---------------------------------------------------------------------------- MLflow
def test_mlflow_ignores_the_index(store):
    check(store.root, store.both)
    assert index_files(store.exp_dir) == [INDEX_FILE]
    mlflow = requires("mlflow", "MLflow's own reader must ignore the index file")
    holder = sqlite3.connect(os.path.join(store.exp_dir, INDEX_FILE))  # -wal/-shm present, as while a search runs
    try:
        holder.execute("SELECT count(*) FROM runs").fetchall()
        client = mlflow.tracking.MlflowClient(tracking_uri="file:" + store.root)
        runs = client.search_runs([store.exp], run_view_type=3)
        ours = {d["run_id"]: d for d in truth(store.root, [store.exp])}
        assert sorted(r.info.run_id for r in runs) == sorted(store.runs)
        for r in runs:
            assert sorted(r.data.params.items()) == ours[r.info.run_id]["params"]
            assert sorted((k, repr(v)) for k, v in r.data.metrics.items()) == ours[r.info.run_id]["metrics"]
        names = {e.name for e in client.search_experiments(view_type=3)}
        assert {"e", "e2"} <= names
        assert len(client.search_runs([store.exp2])) == 1
    finally:
        holder.close()


# ---------------------------------------------------------------------------- incremental parse
_line = st.one_of(
    st.tuples(
        st.integers(0, 5),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, -0.0, float("nan")])),
        st.integers(0, 3),
    ).map(lambda p: format_lines([p])),
    st.sampled_from([b"garbage\n", b"1 2\n", b"1 x 2\n", b"\n", b"3 4.0 1 ds ctx\n", b"2 5.0\n", b"1 1.0 1 2\n"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=24), data=st.data())
def test_incremental_latest_equals_full_parse(tmp_path_factory, lines, data):
    """Random appends (cut anywhere, torn lines included, mtime kept or moved): the indexed
    latest value always equals a full parse."""
    root = tmp_path_factory.mktemp("inc") / "mlruns"
    s = FileStore(str(root))
    exp, _ = s.get_or_create_experiment("e")
    run = s.create_run(exp.experiment_id, "r", "u", 1000)
    path = os.path.join(s.run_folder(run.run_id), "metrics", "m")
    blob = b"".join(lines)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(blob) - 1)), max_size=6))))
    pieces = [blob[i:j] for i, j in zip([0] + cuts, cuts + [len(blob)]) if blob[i:j]]
    age_tree(str(root))
    stamp = int(OLD * 1e9)
    for n, piece in enumerate(pieces):
        append(path, piece)
        if n == 0 or not data.draw(st.booleans(), label="same mtime"):
            stamp += data.draw(st.sampled_from([1, 10**9, 10**9 * 60]), label="mtime step")
        os.utime(path, ns=(stamp, stamp))
        age(os.path.dirname(path))
        got = search(str(root), [exp.experiment_id])
        want = truth(str(root), [exp.experiment_id])
        assert got == want, f"after appending {pieces[: n + 1]!r}:\n" + differences(got, want)
