"""Run creation's fast paths keep what a run records: git state reused only while the work tree is unchanged, the same files as git's own output, the same run folder; experiment names remembered but never stale; data files written without lookups but with the same checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from litexp.errors import ExpAlreadyExistError, InvalidInputError
from litexp.records import ViewType
from litexp.runtime import git_capture as capture
from litexp.store import FileStore
from litexp.store.file import experiments as experiments_module
from litexp.store.file import fs

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
GIT_FILES = {"code_diff.txt": ("diff",), "code_status.txt": ("status",), "code_cached.txt": ("diff", "--cached")}
ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")


def git(repo, *args):
    env = dict(ENV, **capture._GIT_ENV)
    return subprocess.run(("git",) + args, cwd=repo, env=env, check=True, capture_output=True).stdout.decode(
        "utf-8", "replace"
    )


def write(path, text, mode="w"):
    with open(path, mode) as fh:
        fh.write(text)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A work tree with committed files, an ignored folder, and the working folder in it."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    write(path / ".gitignore", "*.log\nbuild/\n")
    write(path / "train.py", "lr = 0.1\n")
    (path / "model").mkdir()
    write(path / "model" / "net.py", "layers = 2\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def git_calls(monkeypatch):
    """The git command batches run by the capture, recorded."""
    calls = []
    run_all = capture._run_all

    def counting(commands, cwd):
        calls.append(sorted(commands))
        return run_all(commands, cwd)

    monkeypatch.setattr(capture, "_run_all", counting)
    return calls


@pytest.fixture
def reuse_at_once(monkeypatch):
    """Let a capture be reused although the tree was written a moment ago (tests change sizes, so nothing is racy)."""
    monkeypatch.setattr(capture, "RACY_SECONDS", 0.0)


def recorded(R, repo):
    """Start and end one run; what it recorded, and what git says now."""
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        during = set(rec.list_artifacts())
    files = {name: open(rec.download_artifact(name), encoding="utf-8").read() for name in GIT_FILES}
    expected = {name: git(repo, *args) for name, args in GIT_FILES.items()}
    commit = rec.list_tags().get("mlflow.source.git.commit")
    assert during == set(GIT_FILES)  # in the run from its start
    return files, expected, commit


@needs_git
def test_git_files_are_git_output_and_follow_a_change_between_runs(R, repo):
    files, expected, commit = recorded(R, repo)
    assert files == expected and commit == git(repo, "rev-parse", "HEAD").strip()
    write(repo / "train.py", "lr = 0.2\n")  # right after the first run: within the same second
    files, expected, _ = recorded(R, repo)
    assert files == expected and "lr = 0.2" in files["code_diff.txt"]


@needs_git
def test_unchanged_tree_is_not_asked_again(R, repo, git_calls, reuse_at_once):
    first = recorded(R, repo)
    second = recorded(R, repo)
    assert first == second and first[0] == first[1]
    assert len(git_calls) == 1


@needs_git
@pytest.mark.parametrize(
    "change, shows",
    [
        (lambda r: write(r / "model" / "net.py", "layers = 3\n"), ("code_diff.txt", "layers = 3")),
        (lambda r: write(r / "notes.txt", "new\n"), ("code_status.txt", "notes.txt")),
        (
            lambda r: (r / "model" / "data").mkdir() or write(r / "model" / "data" / "x.csv", "1\n"),
            ("code_status.txt", "model/data/"),
        ),
        (lambda r: write(r / "model" / ".gitignore", "*.py\n"), ("code_status.txt", "model/.gitignore")),
        (lambda r: git(r, "rm", "-q", "--cached", "train.py"), ("code_cached.txt", "deleted file")),
        (lambda r: os.chmod(r / "train.py", 0o755), ("code_diff.txt", "new mode 100755")),
        (lambda r: git(r, "checkout", "-q", "-b", "other"), ("code_status.txt", "On branch other")),
    ],
)
def test_a_change_between_runs_is_recorded(R, repo, git_calls, reuse_at_once, change, shows):
    recorded(R, repo)
    change(repo)
    files, expected, _ = recorded(R, repo)
    assert files == expected
    name, text = shows
    assert text in files[name]
    assert len(git_calls) == 2


@needs_git
def test_a_commit_between_runs_changes_the_commit_tag(R, repo, reuse_at_once):
    _, _, before = recorded(R, repo)
    write(repo / "train.py", "lr = 0.3\n")
    git(repo, "commit", "-q", "-am", "second")
    files, expected, after = recorded(R, repo)
    assert after == git(repo, "rev-parse", "HEAD").strip() != before
    assert files == expected


@needs_git
def test_ignored_and_untracked_folder_changes_need_no_git(R, repo, git_calls, reuse_at_once):
    (repo / "build").mkdir()
    write(repo / "build" / "old.bin", "x")
    (repo / "data").mkdir()
    write(repo / "data" / "a.csv", "1\n")
    recorded(R, repo)
    write(repo / "build" / "out.bin", "x")  # ignored folder
    write(repo / "data" / "b.csv", "2\n")  # inside an untracked folder git shows as one line
    files, expected, _ = recorded(R, repo)
    assert files == expected and "data/" in files["code_status.txt"]
    assert len(git_calls) == 1
    os.unlink(repo / "data" / "a.csv")
    os.unlink(repo / "data" / "b.csv")  # the folder no longer shows
    files, expected, _ = recorded(R, repo)
    assert files == expected and "data/" not in files["code_status.txt"]


@needs_git
def test_a_store_inside_the_work_tree_does_not_force_git_again(repo, git_calls, reuse_at_once):
    from litexp import FileExpManager, QlibRecorder

    r = QlibRecorder(FileExpManager("file:" + str(repo / "mlruns"), "Experiment"))
    outputs = [recorded(r, repo) for _ in range(3)]
    assert all(files == expected and "mlruns/" in files["code_status.txt"] for files, expected, _ in outputs)
    assert len(git_calls) <= 2  # the first run made the store's experiment folder


@needs_git
def test_a_repository_without_commits(R, tmp_path, monkeypatch):
    path = tmp_path / "empty"
    path.mkdir()
    git(path, "init", "-q")
    write(path / "a.py", "x = 1\n")
    monkeypatch.chdir(path)
    files, expected, commit = recorded(R, path)
    assert commit is None and files == expected and "a.py" in files["code_status.txt"]


@needs_git
def test_git_files_of_an_experiment_with_artifacts_elsewhere(R, repo, tmp_path):
    exp = R.get_exp(experiment_name="e")
    meta = os.path.join(R.get_uri()[len("file:") :], exp.id, "meta.yaml")
    elsewhere = tmp_path / "artifacts"
    text = (
        open(meta)
        .read()
        .replace(
            next(line for line in open(meta) if line.startswith("artifact_location:")),
            f"artifact_location: {elsewhere.as_uri()}\n",
        )
    )
    write(meta, text)
    files, expected, _ = recorded(R, repo)
    assert files == expected
    assert sorted(os.listdir(next(elsewhere.iterdir()) / "artifacts")) == sorted(GIT_FILES)


def test_run_folder_outside_git(R):
    with R.start(experiment_name="e"):
        rec = R.get_recorder()
        R.log_params(a=1)
        R.log_metrics(m=1.0)
        run_dir = rec.get_local_dir()
        assert sorted(os.listdir(run_dir)) == [
            ".litexp-heartbeat",
            "artifacts",
            "meta.yaml",
            "metrics",
            "params",
            "tags",
        ]
    assert sorted(os.listdir(run_dir)) == ["artifacts", "meta.yaml", "metrics", "params", "tags"]
    assert sorted(os.listdir(os.path.join(run_dir, "tags"))) == [
        "mlflow.runName",
        "mlflow.source.name",
        "mlflow.source.type",
        "mlflow.user",
    ]
    assert sorted(os.listdir(os.path.join(run_dir, "params"))) == ["a", "cmd-sys.argv"]
    assert rec.list_artifacts() == []


def test_keys_with_folders_at_creation(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0, tags={"a/b": "x", "c": "y"}, params={"p/q/r": "1"})
    got = store.get_run(run.run_id)
    assert got.tags["a/b"] == "x" and got.tags["c"] == "y" and got.params == {"p/q/r": "1"}
    with pytest.raises(InvalidInputError, match="other tag keys start with"):
        store.create_run(exp.experiment_id, "r", "u", 0, tags={"k/x": "1", "k": "2"})
    with pytest.raises(InvalidInputError, match="named like one of its folders"):
        store.create_run(exp.experiment_id, "r", "u", 0, tags={"k": "1", "k/x": "2"})


def test_run_in_a_deleted_experiment_is_refused(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    store.create_run(exp.experiment_id, "r", "u", 0)  # its experiment is known now
    store.delete_experiment(exp.experiment_id)
    with pytest.raises(InvalidInputError, match="deleted experiment"):
        store.create_run(exp.experiment_id, "r", "u", 0)


@pytest.mark.parametrize("unnamed", [True, False])
def test_files_appear_whole_without_temporary_names(tmp_path, monkeypatch, unnamed):
    if not unnamed:
        monkeypatch.setattr(fs, "_O_TMPFILE", 0)
    folder = tmp_path / "f"
    folder.mkdir()
    target = str(folder / "k")
    assert fs.create_file(target, b"one", str(folder)) is True
    assert fs.create_file(target, b"two", str(folder)) is False
    fs.append_to_file(str(folder / "m"), b"1 2 3\n", str(folder))
    fs.append_to_file(str(folder / "m"), b"4 5 6\n", str(folder))
    fs.create_new_file(str(folder / "meta.yaml"), b"a: 1\n")
    assert open(target, "rb").read() == b"one"
    assert open(folder / "m", "rb").read() == b"1 2 3\n4 5 6\n"
    assert open(folder / "meta.yaml", "rb").read() == b"a: 1\n"
    assert sorted(os.listdir(folder)) == ["k", "m", "meta.yaml"]


# --------------------------------------------------------------------------- experiment names remembered


def _other_process_store(R):
    """A store object of its own on R's store root: what another process sees and does."""
    return FileStore(R.get_uri()[len("file:") :])


def _exp_meta(R, exp_id):
    return os.path.join(R.get_uri()[len("file:") :], exp_id, "meta.yaml")


def _start_in(R, name):
    with R.start(experiment_name=name):
        return R.get_exp().id


def _remembered(R, name):
    """Runs in experiment ``name`` until its name is remembered (the first made the experiment)."""
    exp_id = _start_in(R, name)
    assert _start_in(R, name) == exp_id
    return exp_id


@pytest.fixture(params=["racy", "trusted"])
def stat_trust(request, monkeypatch):
    """Both ways a remembered name is checked: meta.yaml read again (changed moments ago), or its stat alone."""
    if request.param == "trusted":
        monkeypatch.setattr(experiments_module, "RACY_SECONDS", -1e9)
    return request.param


def test_runs_by_name_go_to_the_same_experiment_and_each_sees_a_new_one(R, stat_trust):
    first = _remembered(R, "e")
    second = _start_in(R, "f")
    assert second != first and _start_in(R, "e") == first and _start_in(R, "f") == second


def test_an_experiment_deleted_by_another_process_is_not_used_again(R, stat_trust):
    exp_id = _remembered(R, "e")
    _other_process_store(R).delete_experiment(exp_id)
    with pytest.raises(ExpAlreadyExistError, match="deleted state"):
        R.start(experiment_name="e").__enter__()
    restored = _other_process_store(R)
    restored.restore_experiment(exp_id)
    assert _start_in(R, "e") == exp_id


@pytest.mark.parametrize("in_place", [True, False])
def test_an_experiment_renamed_by_another_process_is_found_by_its_new_name(R, stat_trust, in_place):
    exp_id = _remembered(R, "e1")
    path = _exp_meta(R, exp_id)
    # same length: only the content tells (MLflow rewrites meta.yaml in place; litexp would replace it)
    text = open(path).read().replace("name: e1\n", "name: e2\n")
    if in_place:
        write(path, text)
    else:
        fs.replace_file(path, text.encode())
    if stat_trust == "trusted":  # the stat alone must tell: let the rename change the size
        text = open(path).read().replace("name: e2\n", "name: e2-renamed\n")
        write(path, text)
        new_name = "e2-renamed"
    else:
        new_name = "e2"
    assert _start_in(R, "e1") != exp_id  # the old name is free: a new experiment
    assert _start_in(R, new_name) == exp_id


def test_a_rewrite_that_keeps_the_stat_is_seen_while_the_file_is_recent(R, monkeypatch):
    """A file system whose time stamps cannot tell a rename in the same tick (or second) apart."""
    stamp = time.time_ns()
    monkeypatch.setattr(experiments_module, "_signature", lambda st: (st.st_ino, st.st_dev, st.st_size, stamp, stamp))
    exp_id = _remembered(R, "e1")
    path = _exp_meta(R, exp_id)
    write(path, open(path).read().replace("name: e1\n", "name: e2\n"))  # in place: same inode and size
    assert _start_in(R, "e1") != exp_id
    assert _start_in(R, "e2") == exp_id


def test_on_a_network_file_system_every_start_reads_the_experiments(R, monkeypatch):
    """Stats there may come from the client's attribute cache: nothing is trusted by its stat."""
    monkeypatch.setattr(experiments_module, "is_network_fs", lambda path: True)
    monkeypatch.setattr(experiments_module, "RACY_SECONDS", -1e9)
    monkeypatch.setattr(experiments_module, "_signature", lambda st: (0,))
    exp_id = _remembered(R, "e1")
    path = _exp_meta(R, exp_id)
    write(path, open(path).read().replace("name: e1\n", "name: e2\n"))
    assert _start_in(R, "e1") != exp_id
    assert _start_in(R, "e2") == exp_id


def test_a_new_experiment_made_by_another_process_is_seen(R, stat_trust):
    _remembered(R, "e")
    theirs, _ = _other_process_store(R).get_or_create_experiment("theirs")
    assert _start_in(R, "theirs") == theirs.experiment_id


def test_a_name_in_two_folders_finds_the_first_as_a_full_scan_does(R):
    exp_id = _remembered(R, "e")
    root = R.get_uri()[len("file:") :]
    copy_id = "1" + exp_id[1:] if exp_id[0] != "1" else "2" + exp_id[1:]
    os.mkdir(os.path.join(root, copy_id))
    write(os.path.join(root, copy_id, "meta.yaml"), open(_exp_meta(R, exp_id)).read().replace(exp_id, copy_id))
    expected = FileStore(root).find_experiment("e", ViewType.ACTIVE_ONLY).experiment_id
    assert expected == min(exp_id, copy_id)
    for _ in range(3):
        assert _start_in(R, "e") == expected


def test_an_experiment_deleted_by_another_process_between_runs(R, tmp_path):
    """The same with a real second process, and runs of the first process's still-running recorder refused."""
    exp_id = _remembered(R, "e")
    root = R.get_uri()[len("file:") :]
    code = f"from litexp.store import FileStore; FileStore({root!r}).delete_experiment({exp_id!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(ExpAlreadyExistError, match="deleted state"):
        R.start(experiment_name="e").__enter__()
    assert _start_in(R, "fresh") != exp_id


# --------------------------------------------------------------------------- logging and ending without lookups


def test_a_run_moved_by_another_process_is_found_for_logging_and_ending(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)
    store.log_batch(run.run_id, [("m", 1.0, 1, 0)], {"p": "1"})
    other = FileStore(str(tmp_path / "s"))
    other.delete_experiment(exp.experiment_id)  # the run folder moves to .trash, marked deleted
    with pytest.raises(InvalidInputError, match="deleted"):
        store.log_batch(run.run_id, [("m", 2.0, 2, 1)])
    other.restore_experiment(exp.experiment_id)
    store.log_batch(run.run_id, [("m", 2.0, 2, 1)])
    ended = store.update_run(run.run_id, "FINISHED", 5)
    assert (ended.status, ended.end_time) == ("FINISHED", 5)
    assert [p.value for p in store.get_metric_history(run.run_id, "m")] == [1.0, 2.0]
    assert FileStore(str(tmp_path / "s")).get_run(run.run_id).status == "FINISHED"


def test_metric_files_made_or_extended_by_another_store_object(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)
    other = FileStore(str(tmp_path / "s"))
    other.log_batch(run.run_id, [("m", 1.0, 10, 0), ("deep/m", 1.0, 10, 0)])
    # this store object never wrote "m": it creates first, finds the file and appends after its last line
    store.log_batch(run.run_id, [("m", 1.0, 10, 0), ("m", 2.0, 11, 1), ("deep/m", 3.0, 12, 2)])
    other.log_batch(run.run_id, [("m", 3.0, 12, 2)])
    store.log_batch(run.run_id, [("m", 3.0, 12, 2), ("m", 4.0, 13, 3)])
    assert [(p.value, p.step) for p in store.get_metric_history(run.run_id, "m")] == [
        (1.0, 0),
        (2.0, 1),
        (3.0, 2),
        (4.0, 3),
    ]
    assert [p.value for p in store.get_metric_history(run.run_id, "deep/m")] == [1.0, 3.0]
    run_dir = store.local_run_dir(run.run_id)
    assert not [n for _, _, names in os.walk(run_dir) for n in names if "litexp-tmp" in n]


@pytest.mark.parametrize("kind", ["Metric", "Param", "Tag"])
def test_key_clashes_are_refused_without_writing(tmp_path, kind):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)

    def log(key):
        if kind == "Metric":
            store.log_batch(run.run_id, [(key, 1.0, 1, 0)])
        elif kind == "Param":
            store.log_batch(run.run_id, params={key: "1"})
        else:
            store.log_batch(run.run_id, tags={key: "1"})

    log("a/b")
    with pytest.raises(InvalidInputError, match="start with 'a/'"):
        log("a")
    log("c")
    with pytest.raises(InvalidInputError, match="named like one of its folders"):
        log("c/d")
    folder = os.path.join(
        store.local_run_dir(run.run_id), {"Metric": "metrics", "Param": "params", "Tag": "tags"}[kind]
    )
    assert sorted(set(os.listdir(folder)) - {"mlflow.runName"}) == ["a", "c"] and os.listdir(
        os.path.join(folder, "a")
    ) == ["b"]


def test_a_missing_kind_folder_is_made(tmp_path):
    """A run folder without its metrics/params/tags folders (an MLflow store edited by hand)."""
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)
    run_dir = store.local_run_dir(run.run_id)
    for sub in ("params", "tags"):
        shutil.rmtree(os.path.join(run_dir, sub))
    metrics_dir = os.path.join(run_dir, "metrics")
    os.rmdir(metrics_dir)
    store.log_batch(run.run_id, [("m", 1.0, 1, 0)], {"p": "1"}, {"t": "x"})
    got = store.get_run(run.run_id)
    assert got.metrics == {"m": 1.0} and got.params == {"p": "1"} and got.tags["t"] == "x"


def test_the_same_param_again_is_fine_a_changed_one_refused(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)
    store.log_batch(run.run_id, params={"p": "1"})
    FileStore(str(tmp_path / "s")).log_batch(run.run_id, params={"p": "1"})
    with pytest.raises(InvalidInputError, match="already '1'"):
        store.log_batch(run.run_id, params={"p": "2"})


# --------------------------------------------------------------------------- create_run(artifacts=...)


def test_create_run_writes_artifacts_into_the_new_run_folder(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    files = {"a.txt": b"one", "b.txt": b"two"}
    run = store.create_run(exp.experiment_id, "r", "u", 0, artifacts=files)
    assert files == {"a.txt": b"one", "b.txt": b"two"}  # the caller's mapping is left alone
    folder = os.path.join(store.local_run_dir(run.run_id), "artifacts")
    assert {n: open(os.path.join(folder, n), "rb").read() for n in os.listdir(folder)} == files
    with pytest.raises(InvalidInputError, match="plain file name"):
        store.create_run(exp.experiment_id, "r", "u", 0, artifacts={"sub/a.txt": b"x"})
    assert store.list_run_ids(exp.experiment_id) == [run.run_id]  # the refused one made nothing


def test_create_run_logs_artifacts_where_the_experiment_keeps_them(tmp_path):
    store = FileStore(str(tmp_path / "s"))
    exp, _ = store.get_or_create_experiment("e")
    meta = os.path.join(str(tmp_path / "s"), exp.experiment_id, "meta.yaml")
    elsewhere = tmp_path / "elsewhere"
    text = (
        open(meta)
        .read()
        .replace(
            next(line for line in open(meta) if line.startswith("artifact_location:")),
            f"artifact_location: {elsewhere.as_uri()}\n",
        )
    )
    write(meta, text)
    run = store.create_run(exp.experiment_id, "r", "u", 0, artifacts={"a.txt": b"one"})
    assert open(elsewhere / run.run_id / "artifacts" / "a.txt", "rb").read() == b"one"
    assert os.listdir(os.path.join(store.local_run_dir(run.run_id), "artifacts")) == []


def test_rest_store_uploads_the_artifacts_of_a_new_run_once_it_exists(monkeypatch):
    from litexp.store.rest import RestStore

    store = RestStore("http://127.0.0.1:9")
    calls = []

    def call(endpoint, body, method="POST"):
        calls.append(endpoint)
        if endpoint == "runs/create":
            return {
                "run": {
                    "info": {
                        "run_id": "r" * 32,
                        "experiment_id": body["experiment_id"],
                        "status": "RUNNING",
                        "artifact_uri": "mlflow-artifacts:/x",
                        "lifecycle_stage": "active",
                    }
                }
            }
        return {}

    uploaded = {}

    def log_artifact(run_id, local_path, artifact_path=None):
        calls.append("upload")
        uploaded[os.path.basename(local_path)] = (run_id, open(local_path, "rb").read(), artifact_path)

    monkeypatch.setattr(store.client, "call", call)
    monkeypatch.setattr(store, "log_artifact", log_artifact)
    run = store.create_run("1", "r", "u", 0, params={"p": "1"}, artifacts={"a.txt": b"one", "b.txt": b"two"})
    assert run.run_id == "r" * 32
    assert calls == ["runs/create", "runs/log-batch", "upload", "upload"]
    assert uploaded == {"a.txt": ("r" * 32, b"one", None), "b.txt": ("r" * 32, b"two", None)}
