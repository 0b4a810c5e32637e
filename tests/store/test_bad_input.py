"""The bad-input catalogue: each case gets a clear LitexpError, the run keeps working,
and nothing is written outside the store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from litexp import InvalidInputError, LitexpError, StorageError
from litexp.store import FileStore


def files_outside(tmp_path, store_dir):
    cwd = tmp_path / "cwd"
    return sorted(
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if store_dir not in p.parents and p != store_dir and cwd not in p.parents and p != cwd
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda R: R.log_params(**{"../x": 1}), "Invalid Param key"),
        (lambda R: R.log_metrics(**{"/abs": 1.0}), "Invalid Metric key"),
        (lambda R: R.set_tags(**{"a/../../b": "v"}), "Invalid Tag key"),
        (lambda R: R.log_metrics(**{"nul\x00": 1.0}), "Invalid Metric key"),
        (lambda R: R.log_params(**{"k" * 300: 1}), "limit is 250"),
        (lambda R: R.log_metrics(x="1.0"), "must be a number"),
        (lambda R: R.log_metrics(x=None), "must be a number"),
        (lambda R: R.log_metrics(x=True), "must be a number"),
        (lambda R: R.log_params(p="a\x00b"), "NUL"),
        (lambda R: R.save_objects(**{"../../evil.pkl": 1}), "escapes"),
        (lambda R: R.log_artifact(__file__, artifact_path="../../up"), "escapes"),
        (lambda R: R.save_objects(obj=lambda: 1), "cannot be pickled"),
    ],
)
def test_catalogue(R, tmp_path, store_dir, call, message):
    with R.start(experiment_name="e"):
        before = files_outside(tmp_path, store_dir)
        with pytest.raises(LitexpError, match=message):
            call(R)
        R.log_metrics(step=1, still_working=1.0)
        rec = R.get_recorder()
        assert rec.list_metrics()["still_working"] == 1.0
        assert files_outside(tmp_path, store_dir) == before


def test_param_relogged_with_other_value(R):
    with R.start(experiment_name="e"):
        R.log_params(p=1)
        with pytest.raises(InvalidInputError, match="already '1'"):
            R.log_params(p=2)


def test_corrupt_meta_in_store_is_reported_and_rest_listed(R, store_dir):
    with R.start(experiment_name="e"):
        good = R.get_recorder().id
    with R.start(experiment_name="e"):
        bad = R.get_recorder()
    with open(os.path.join(bad.get_local_dir(), "meta.yaml"), "w") as fh:
        fh.write("status: [")
    assert list(R.list_recorders(experiment_name="e")) == [good]
    with pytest.raises(LitexpError, match="meta.yaml"):
        bad.log_metrics(x=1)


def _mount_tmpfs(path, size="96k"):
    if os.geteuid() != 0:
        return False
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_full_disk_during_writes(tmp_path):
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        store = FileStore(str(mnt / "mlruns"))
        exp, _ = store.get_or_create_experiment("e")
        run = store.create_run(exp.experiment_id, "r", "u", 0)
        store.log_batch(run.run_id, [("m", 1.0, 1, 0)])
        with pytest.raises(StorageError, match="No space left|free some space"):
            for i in range(10_000):
                store.log_batch(run.run_id, [("m", float(i), i, i)] * 50, tags={f"t{i}": "x" * 500})
        # what was acknowledged is intact and every metric line is whole
        path = os.path.join(store.run_folder(run.run_id), "metrics", "m")
        with open(path) as fh:
            text = fh.read()
        assert text.endswith("\n") and all(len(line.split()) == 3 for line in text.splitlines())
        assert FileStore(store.root).get_run(run.run_id).status == "RUNNING"
        with pytest.raises(StorageError):
            store.log_batch(run.run_id, params={"big": "y" * 5000})
        leftovers = [p for p in mnt.rglob("*") if "litexp-tmp" in p.name]
        assert leftovers == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_file_size_limit_gives_storage_error(tmp_path):
    script = textwrap.dedent(
        """
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from litexp.store import FileStore
        from litexp import StorageError
        s = FileStore(sys.argv[1])
        e, _ = s.get_or_create_experiment("e")
        r = s.create_run(e.experiment_id, "r", "u", 0)
        s.log_batch(r.run_id, [("m", 1.0, 1, 0)])
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            for i in range(1000):
                s.log_batch(r.run_id, [("m", float(i), i, i)] * 20)
        except StorageError as exc:
            print("storage-error", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "s")], capture_output=True, text=True, timeout=60
    )
    assert "storage-error" in done.stdout, done.stderr
    store = FileStore(str(tmp_path / "s"))
    (run,) = store.load_runs([store.find_experiment("e").experiment_id])
    text = open(os.path.join(store.run_folder(run.run_id), "metrics", "m")).read()
    assert text.endswith("\n") and all(len(line.split()) == 3 for line in text.splitlines())
