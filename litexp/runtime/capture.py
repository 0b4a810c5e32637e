"""What a run records about where it was started: command line, environment, git state."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Dict, Optional

from ..records import SOURCE_NAME_TAG, SOURCE_TYPE_TAG, USER_TAG

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
GIT_TIMEOUT = 5.0
GIT_FILES = (
    (("diff",), "code_diff.txt"),
    (("status",), "code_status.txt"),
    (("diff", "--cached"), "code_cached.txt"),
)


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without passwd entries)
        return "unknown"


def system_tags() -> Dict[str, str]:
    """MLflow's system tags for a run started from this process."""
    return {
        USER_TAG: current_user(),
        SOURCE_NAME_TAG: sys.argv[0] if sys.argv else "",
        SOURCE_TYPE_TAG: "LOCAL",
    }


def run_params() -> Dict[str, str]:
    """Qlib's captured params: the command line and every ``_QLIB_*`` environment variable."""
    params = {"cmd-sys.argv": " ".join(sys.argv)}
    params.update({k: v for k, v in os.environ.items() if k.startswith("_QLIB_")})
    return params


def _git(*args: str, cwd: str) -> Optional[str]:
    import subprocess

    env = dict(os.environ)
    env.update(_GIT_ENV)
    try:
        done = subprocess.run(
            ("git",) + args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def _maybe_in_git(cwd: str) -> bool:
    """Cheap check (no subprocess): is there a ``.git`` in ``cwd`` or above it?"""
    if os.environ.get("GIT_DIR"):
        return True
    ceilings = {os.path.abspath(p) for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    path = os.path.abspath(cwd)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return True
        parent = os.path.dirname(path)
        if parent == path or parent in ceilings:
            return False
        path = parent


def git_state(cwd: Optional[str] = None) -> Optional[Dict[str, str]]:
    """Commit and uncommitted changes of the git work tree around ``cwd``; None outside git.

    Never prints, never prompts, and gives up after a few seconds.
    """
    cwd = cwd or os.getcwd()
    if not _maybe_in_git(cwd):
        return None
    head = _git("rev-parse", "--is-inside-work-tree", "HEAD", cwd=cwd)
    if head is None:
        inside = _git("rev-parse", "--is-inside-work-tree", cwd=cwd)
        if inside is None or inside.strip() != "true":
            return None
        commit = None  # a repository without commits yet
    else:
        lines = head.split()
        if not lines or lines[0] != "true":
            return None
        commit = lines[1] if len(lines) > 1 else None
    state: Dict[str, str] = {}
    if commit:
        state["commit"] = commit
    for args, name in GIT_FILES:
        out = _git(*args, cwd=cwd)
        if out is not None:
            state[name] = out
    return state
