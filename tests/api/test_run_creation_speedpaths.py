"""Run creation's fast paths keep what a run records: git state reused only while the work tree is unchanged, the same files as git's own output, the same run folder."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from litexp.errors import InvalidInputError
from litexp.runtime import capture
from litexp.store import FileStore
from litexp.store.file import fs

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
GIT_FILES = {"code_diff.txt": ("diff",), "code_status.txt": ("status",), "code_cached.txt": ("diff", "--cached")}
ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")


def git(repo, *args):
    env = dict(ENV, **capture._GIT_ENV)
    return subprocess.run(("git",) + args, cwd=repo, env=env, check=True, capture_output=True).stdout.decode("utf-8", "replace")


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
@pytest.mark.parametrize("change, shows", [
    (lambda r: write(r / "model" / "net.py", "layers = 3\n"), ("code_diff.txt", "layers = 3")),
    (lambda r: write(r / "notes.txt", "new\n"), ("code_status.txt", "notes.txt")),
    (lambda r: (r / "model" / "data").mkdir() or write(r / "model" / "data" / "x.csv", "1\n"), ("code_status.txt", "model/data/")),
    (lambda r: write(r / "model" / ".gitignore", "*.py\n"), ("code_status.txt", "model/.gitignore")),
    (lambda r: git(r, "rm", "-q", "--cached", "train.py"), ("code_cached.txt", "deleted file")),
    (lambda r: os.chmod(r / "train.py", 0o755), ("code_diff.txt", "new mode 100755")),
    (lambda r: git(r, "checkout", "-q", "-b", "other"), ("code_status.txt", "On branch other")),
])
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
    meta = os.path.join(R.get_uri()[len("file:"):], exp.id, "meta.yaml")
    elsewhere = tmp_path / "artifacts"
    text = open(meta).read().replace(
        next(line for line in open(meta) if line.startswith("artifact_location:")),
        f"artifact_location: {elsewhere.as_uri()}\n",
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
        assert sorted(os.listdir(run_dir)) == [".litexp-heartbeat", "artifacts", "meta.yaml", "metrics", "params", "tags"]
    assert sorted(os.listdir(run_dir)) == ["artifacts", "meta.yaml", "metrics", "params", "tags"]
    assert sorted(os.listdir(os.path.join(run_dir, "tags"))) == ["mlflow.runName", "mlflow.source.name",
                                                                  "mlflow.source.type", "mlflow.user"]
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
