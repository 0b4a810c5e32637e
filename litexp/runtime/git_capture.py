"""The git state a run records: the commit, ``git diff``, ``git status``, ``git diff --cached``.

Git state (the commit, ``git diff``, ``git status``, ``git diff --cached``)
costs git subprocesses. They run concurrently, and a process that starts many
runs in one work tree runs them once: the next run reuses their output while
nothing git read for it has changed (same working folder and ``GIT_*``
environment too). What git reads is watched with ``lstat``, no subprocess: in
the git folder ``HEAD``, the index, the refs but tags, packed refs, config,
``info/`` and the folder itself (a merge, rebase or lock file appearing); the
config, ignore and attributes files git reads from elsewhere; every folder of
the work tree git looks into for untracked files (not ignored ones), every file
there that git lists neither as untracked nor as ignored (the tracked ones) and
every ``.gitignore`` / ``.gitattributes``; for an untracked folder ``git status``
shows as one line, one untracked file in it and the ``.gitignore`` files on the
way to it (whatever else changes inside, the line stays). A file not there yet
is watched through the closest folder that is (its mtime changes when the file
is made). Output is reused only when every watched entry has the same type,
inode, size, mtime and ctime as after git ran, and only when none of them had
changed in the :data:`RACY_SECONDS` before git started: a file changed again
within its file system's timestamp granularity could otherwise look unchanged.
Submodules, an operation in progress (merge, rebase, cherry-pick, revert,
bisect), config includes, ``GIT_DIR``-style variables or a work tree too large
to watch cheaply mean git runs again for every run.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from ..platform import environment_variables

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
GIT_TIMEOUT = 5.0
GIT_FILES = (
    (("diff",), "code_diff.txt"),
    (("status",), "code_status.txt"),
    (("diff", "--cached"), "code_cached.txt"),
)
#: Output is not reused when a watched entry changed less than this before git ran
#: (file system timestamp granularity: 2 s on FAT; coarse kernel clocks; some clock skew).
RACY_SECONDS = 3.0
#: More work-tree folders or entries than this to watch: git runs again for every run instead.
MAX_WATCHED_DIRS = 5000
MAX_WATCHED_PATHS = 50_000
#: Folders searched in an untracked folder for a file that keeps it listed.
MAX_WITNESS_DIRS = 200

#: Inside a work tree? and the commit (a repository without commits: rev-parse fails after "true").
_HEAD = ("rev-parse", "--is-inside-work-tree", "HEAD")
#: The commit, and which paths are untracked or ignored (paths from the top), when the output may be reused.
_LISTED = (
    "-c",
    "status.relativePaths=false",
    "status",
    "--porcelain=v2",
    "-z",
    "--branch",
    "--ignored=matching",
    "--untracked-files=normal",
)
#: Present in the git folder during a merge, rebase, cherry-pick, revert or bisect (``git status`` tells their state).
_IN_PROGRESS = (
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "BISECT_LOG",
    "rebase-merge",
    "rebase-apply",
    "sequencer",
)
#: Environment variables git's output may depend on, besides ``GIT_*`` (part of the reuse key).
_GIT_ENV_NAMES = ("HOME", "XDG_CONFIG_HOME", "PATH", "PREFIX")
#: Variables that move what git reads elsewhere: no reuse while one is set.
_GIT_PATH_ENV = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
        "GIT_CONFIG",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
    }
)
#: In a config file: includes (other files) or core.worktree (another work tree): no reuse.
_CONFIG_ELSEWHERE = re.compile(rb"(?im)\[\s*include|^\s*worktree\s*=")
#: In a config file: an ignore or attributes file to watch.
_CONFIG_FILE_VALUE = re.compile(rb"(?im)(?:^|\])\s*(?:excludesfile|attributesfile)\s*=[ \t]*(.*?)\s*$")


def _git_marker(cwd: str) -> Optional[str]:
    """Cheap check (no subprocess): the ``.git`` in ``cwd`` or the closest above it (``$GIT_DIR`` when set); None outside git."""
    git_dir = os.environ.get("GIT_DIR")
    if git_dir:
        return git_dir
    ceilings = {os.path.abspath(p) for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    path = os.path.abspath(cwd)
    while True:
        marker = os.path.join(path, ".git")
        if os.path.exists(marker):
            return marker
        parent = os.path.dirname(path)
        if parent == path or parent in ceilings:
            return None
        path = parent


Sig = Optional[Tuple[int, int, int, int, int, int]]


def _sig(path: str) -> Sig:
    """What tells a changed file or folder: type and mode, inode, device, size, mtime, ctime (None: missing)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _kind(path: str) -> Optional[int]:
    """The type of an entry (None: missing): for a file whose content does not matter, only its presence."""
    try:
        return os.lstat(path).st_mode & 0o170000
    except (FileNotFoundError, NotADirectoryError):
        return None


class _Watch:
    """The output of one capture and the entries it depends on."""

    __slots__ = ("state", "paths", "sigs", "present", "kinds")

    def __init__(self, state: Dict[str, str], paths: List[str], sigs: List[Sig], present: List[str]) -> None:
        self.state = state
        self.paths = paths
        self.sigs = sigs
        self.present = present
        self.kinds = [_kind(p) for p in present]

    def unchanged(self) -> bool:
        lstat = os.lstat
        try:
            for path, sig in zip(self.paths, self.sigs):
                try:
                    st = lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    if sig is not None:
                        return False
                    continue
                if sig != (st.st_mode, st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns):
                    return False
            for path, kind in zip(self.present, self.kinds):
                if _kind(path) != kind:
                    return False
        except OSError:  # unreadable now: ask git again
            return False
        return True


_lock = threading.Lock()
_cache: Dict[Tuple[Any, ...], _Watch] = {}
_misses: Dict[Tuple[Any, ...], int] = {}
_CACHE_LIMIT = 8


def git_state(cwd: Optional[str] = None) -> Optional[Dict[str, str]]:
    """Commit and uncommitted changes of the git work tree around ``cwd``; None outside git.

    Never prints, never prompts, and gives up after a few seconds. The output of
    an earlier call is reused while nothing git reads has changed (see the module).
    """
    try:
        cwd = cwd or os.getcwd()
    except OSError:  # the working folder was removed
        return None
    marker = _git_marker(cwd)
    if marker is None:
        return None
    env = environment_variables("GIT_", _GIT_ENV_NAMES)
    key = (cwd, marker, tuple(env.items()))
    with _lock:
        watch = _cache.pop(key, None)
        misses = _misses.get(key, 0)
    if watch is not None and watch.unchanged():
        with _lock:
            _cache[key] = watch
            _misses[key] = 0
        return dict(watch.state)
    layout = None
    # watching costs a walk of the work tree: not while it never pays off
    if (misses < 8 or misses % 16 == 0) and _GIT_PATH_ENV.isdisjoint(env):
        layout = _repository(marker)
    state, watch = _capture(cwd, layout)
    with _lock:
        _misses[key] = misses + 1
        if watch is not None:
            while len(_cache) >= _CACHE_LIMIT:
                _cache.pop(next(iter(_cache)))
            _cache[key] = watch
        while len(_misses) > 4 * _CACHE_LIMIT:
            _misses.pop(next(iter(_misses)))
    return None if state is None else dict(state)


def _repository(marker: str) -> Optional[Tuple[str, str, str]]:
    """Top of the work tree, git folder and common git folder of the repository whose ``.git`` is
    ``marker`` (a folder, or a file naming one: worktrees); None when it is laid out otherwise."""
    top = os.path.dirname(marker)
    try:
        if os.path.isdir(marker):
            git_dir = marker
        else:
            with open(marker, "rb") as fh:
                text = fh.read().decode("utf-8").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = os.path.normpath(os.path.join(top, text[len("gitdir:") :].strip()))
        common = git_dir
        try:
            with open(os.path.join(git_dir, "commondir"), "rb") as fh:
                common = os.path.normpath(os.path.join(git_dir, fh.read().decode("utf-8").strip()))
        except FileNotFoundError:
            pass
    except (OSError, UnicodeDecodeError):
        return None
    return top, git_dir, common


def _run_all(commands: Dict[str, Tuple[str, ...]], cwd: str) -> Optional[Dict[str, Tuple[int, bytes]]]:
    """Run git commands concurrently: the exit code and stdout of each that ran; None without git."""
    env = dict(os.environ)
    env.update(_GIT_ENV)
    if hasattr(os, "posix_spawnp") and hasattr(os, "waitpid"):
        return _spawn_all(commands, cwd, env)
    return _popen_all(commands, cwd, env)


def _spawn_all(
    commands: Dict[str, Tuple[str, ...]], cwd: str, env: Dict[str, str]
) -> Optional[Dict[str, Tuple[int, bytes]]]:
    """:func:`_run_all` with ``posix_spawn``: no fork of this process and no import of ``subprocess``
    (milliseconds, paid by a process's first run)."""
    import select
    import signal

    running: Dict[str, Tuple[int, int]] = {}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for name, args in commands.items():
            read_end, write_end = os.pipe()
            try:
                pid = os.posix_spawnp(
                    "git",
                    ["git", "-C", cwd, *args],
                    env,
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, devnull, 0),
                        (os.POSIX_SPAWN_DUP2, write_end, 1),
                        (os.POSIX_SPAWN_DUP2, devnull, 2),
                    ],
                    setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
                )
            except BaseException:
                os.close(read_end)
                raise
            finally:
                os.close(write_end)
            running[name] = (pid, read_end)
    except (OSError, ValueError):  # no git
        for pid, read_end in running.values():
            os.close(read_end)
            _kill(pid)
        return None
    finally:
        os.close(devnull)
    deadline = time.monotonic() + GIT_TIMEOUT
    out: Dict[str, Tuple[int, bytes]] = {}
    for name, (pid, read_end) in running.items():
        chunks: List[bytes] = []
        finished = False
        try:
            poller = select.poll()
            poller.register(read_end, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not poller.poll(left * 1000):
                    break
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    finished = True
                    break
                chunks.append(chunk)
        finally:
            os.close(read_end)
        if not finished:
            _kill(pid)
            continue
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by someone else: its exit code is unknown
            continue
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        out[name] = (code, b"".join(chunks))
    return out


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _popen_all(
    commands: Dict[str, Tuple[str, ...]], cwd: str, env: Dict[str, str]
) -> Optional[Dict[str, Tuple[int, bytes]]]:
    """:func:`_run_all` with ``subprocess`` (systems without ``posix_spawn``)."""
    import subprocess

    procs: Dict[str, Any] = {}
    try:
        for name, args in commands.items():
            procs[name] = subprocess.Popen(
                ("git",) + args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
    except (OSError, subprocess.SubprocessError, ValueError):
        for proc in procs.values():
            _stop(proc)
        return None
    deadline = time.monotonic() + GIT_TIMEOUT
    out: Dict[str, Tuple[int, bytes]] = {}
    for name, proc in procs.items():
        try:
            stdout, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except (OSError, subprocess.SubprocessError):
            _stop(proc)
            continue
        out[name] = (proc.returncode, stdout)
    return out


def _stop(proc: Any) -> None:
    try:
        proc.kill()
        proc.communicate()
    except Exception:
        pass


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _capture(cwd: str, repo: Optional[Tuple[str, str, str]]) -> Tuple[Optional[Dict[str, str]], Optional[_Watch]]:
    """Run git (every command at once): the state, and what to watch to reuse it (with ``repo``; None: no reuse)."""
    commands: Dict[str, Tuple[str, ...]] = {"listed": _LISTED} if repo is not None else {"head": _HEAD}
    for args, name in GIT_FILES:
        commands[name] = args
    started = time.time()
    out = _run_all(commands, cwd)
    if out is None:
        return None, None
    commit: Optional[str] = None
    listed = out.get("listed")
    if repo is not None and listed is not None and listed[0] == 0:
        commit = _branch_oid(listed[1])
    else:  # not in a work tree, or a git without --ignored=matching: ask rev-parse
        listed = None
        if "head" not in out:
            out.update(_run_all({"head": _HEAD}, cwd) or {})
        code, stdout = out.get("head", (1, b""))
        lines = _text(stdout).split("\n")
        if lines[0] != "true":
            return None, None
        if code == 0 and len(lines) > 1:
            commit = lines[1]
    state: Dict[str, str] = {}
    if commit:
        state["commit"] = commit
    for _, name in GIT_FILES:
        code, stdout = out.get(name, (1, b""))
        if code == 0:
            state[name] = _text(stdout)
    watch = None
    if repo is not None and listed is not None and all(name in state for _, name in GIT_FILES):
        try:
            watch = _watch_for(state, repo, listed[1], started)
        except OSError:
            watch = None
    return state, watch


def _branch_oid(listed: bytes) -> Optional[str]:
    for token in listed.split(b"\0"):
        if token.startswith(b"# branch.oid "):
            oid = _text(token[len(b"# branch.oid ") :]).strip()
            return None if oid == "(initial)" else oid
        if not token.startswith(b"#"):
            break
    return None


def _watch_for(state: Dict[str, str], repo: Tuple[str, str, str], listed: bytes, started: float) -> Optional[_Watch]:
    """What to watch to reuse ``state``; None when it cannot be reused safely or cheaply."""
    top, git_dir, common = repo
    if any(_kind(os.path.join(git_dir, name)) is not None for name in _IN_PROGRESS):
        return None
    paths = _git_dir_entries(top, git_dir, common)
    config = _config_entries(git_dir, common)
    if config is None:
        return None
    paths += config
    walked = _work_tree_entries(top, _listed(listed))
    if walked is None:
        return None
    paths += walked[0]
    paths = list(dict.fromkeys(paths))
    if len(paths) > MAX_WATCHED_PATHS:
        return None
    sigs = [_sig(p) for p in paths]
    # an entry changed after git started may have been read before the change; a recent one may change unseen
    recent = int((started - RACY_SECONDS) * 1e9)
    for sig in sigs:
        if sig is not None and (sig[4] >= recent or sig[5] >= recent):
            return None
    return _Watch(state, paths, sigs, walked[1])


def _existing_or_parent(path: str) -> str:
    """``path`` when it exists, else its closest existing folder (whose mtime changes when it is made)."""
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _git_dir_entries(top: str, git_dir: str, common: str) -> List[str]:
    """The git folder entries ``diff`` and ``status`` depend on (refs but tags; folders for files not there yet)."""
    paths = [os.path.join(top, ".git"), git_dir, os.path.join(git_dir, "HEAD"), os.path.join(git_dir, "index"), common]
    for name in (
        "packed-refs",
        "shallow",
        os.path.join("reftable", "tables.list"),
        os.path.join("logs", "refs", "stash"),
        os.path.join("info", "exclude"),
        os.path.join("info", "attributes"),
        os.path.join("info", "grafts"),
    ):
        paths.append(_existing_or_parent(os.path.join(common, name)))
    paths.append(_existing_or_parent(os.path.join(git_dir, "info", "sparse-checkout")))
    refs = os.path.join(common, "refs")
    stack = [refs]
    while stack:
        folder = stack.pop()
        paths.append(folder)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not (folder == refs and entry.name == "tags"):
                    stack.append(entry.path)
            else:
                paths.append(entry.path)
    return paths


def _config_entries(git_dir: str, common: str) -> Optional[List[str]]:
    """Config, ignore and attributes files git reads (folders for those not there yet); None when a
    config includes other files or names another work tree."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    configs = [
        os.path.join(common, "config"),
        os.path.join(git_dir, "config.worktree"),
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        "/etc/gitconfig",
        "/usr/local/etc/gitconfig",
    ]
    others = [
        os.path.join(xdg, "git", "ignore"),
        os.path.join(xdg, "git", "attributes"),
        "/etc/gitattributes",
        "/usr/local/etc/gitattributes",
    ]
    for path in configs:
        try:
            with open(path, "rb") as fh:
                text = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _CONFIG_ELSEWHERE.search(text):
            return None
        for match in _CONFIG_FILE_VALUE.finditer(text):
            value = match.group(1)
            if value.startswith(b'"'):
                value = value[1:].partition(b'"')[0]
            else:
                value = re.split(rb"[#;]", value, maxsplit=1)[0].strip()
            if b"\\" in value or b"%(" in value:
                return None
            if value:
                others.append(os.path.expanduser(os.fsdecode(value)))
    return [_existing_or_parent(p) for p in configs + others]


def _listed(data: bytes) -> Tuple[Set[str], Set[str], Set[str]]:
    """From ``git status --porcelain=v2 -z``: untracked paths (folders shown as one line end with
    ``/``), ignored folders, ignored files."""
    untracked: Set[str] = set()
    ignored_dirs: Set[str] = set()
    ignored_files: Set[str] = set()
    tokens = data.split(b"\0")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith(b"2 "):
            i += 1  # a rename: its original path follows
        elif token.startswith(b"? "):
            untracked.add(os.fsdecode(token[2:]))
        elif token.startswith(b"! "):
            if token.endswith(b"/"):
                ignored_dirs.add(os.fsdecode(token[2:-1]))
            else:
                ignored_files.add(os.fsdecode(token[2:]))
    return untracked, ignored_dirs, ignored_files


def _work_tree_entries(top: str, listed: Tuple[Set[str], Set[str], Set[str]]) -> Optional[Tuple[List[str], List[str]]]:
    """Work-tree entries to watch, and files whose presence keeps untracked folders listed.

    Watched: every folder git looks into for untracked files, except ignored ones
    (an entry added or removed changes its mtime); every tracked file (the files
    there git lists neither as untracked nor as ignored); every ``.gitignore`` and
    ``.gitattributes``. An untracked folder shown as one line is watched through
    one untracked file in it and the ``.gitignore`` files on the way to it. None
    when there are too many folders, or a submodule.
    """
    untracked, ignored_dirs, ignored_files = listed
    paths: List[str] = []
    present: List[str] = []
    stack = [("", top)]
    walked = 0
    while stack:
        rel, folder = stack.pop()
        paths.append(folder)
        walked += 1
        if walked > MAX_WATCHED_DIRS:
            return None
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = entry.name
            if name == ".git":
                if rel:  # a repository inside that git does not list as untracked: a submodule
                    return None
                continue
            child = rel + "/" + name if rel else name
            if entry.is_dir(follow_symlinks=False):
                if child in ignored_dirs:
                    continue
                if child + "/" in untracked:
                    found = _witness(child, entry.path, ignored_dirs, ignored_files)
                    if found is None:
                        return None
                    paths += found[0]
                    present.append(found[1])
                    continue
                stack.append((child, entry.path))
            elif name in (".gitignore", ".gitattributes") or (child not in untracked and child not in ignored_files):
                paths.append(entry.path)
    return paths, present


def _witness(rel: str, folder: str, ignored_dirs: Set[str], ignored_files: Set[str]) -> Optional[Tuple[List[str], str]]:
    """The shallowest untracked, not ignored file of an untracked folder, and the ``.gitignore``
    paths (there or not) of the folders on the way: while it is there and they do not change, git
    lists the folder."""
    queue: List[Tuple[str, str, List[str]]] = [(rel, folder, [])]
    seen = 0
    while queue and seen < MAX_WITNESS_DIRS:
        rel_dir, path, chain = queue.pop(0)
        seen += 1
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return None
        chain = chain + [os.path.join(path, ".gitignore")]
        subdirs = []
        for entry in entries:
            child = rel_dir + "/" + entry.name
            if entry.name == ".git":  # a repository inside: git lists the folder for it
                return chain, entry.path
            if entry.is_dir(follow_symlinks=False):
                if child not in ignored_dirs:
                    subdirs.append((child, entry.path))
            elif child not in ignored_files:
                return chain, entry.path
        queue += [(c, p, chain) for c, p in subdirs]
    return None
