"""What a run records about where it was started: the user, the command line, Qlib's ``_QLIB_*``
environment and, from :mod:`litexp.runtime.git_capture`, the git state.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Dict

from ..platform import environment_variables
from ..records import SOURCE_NAME_TAG, SOURCE_TYPE_TAG, USER_TAG
from .git_capture import git_state

__all__ = ["current_user", "system_tags", "run_params", "git_state"]

_user_by_uid: Dict[int, str] = {}
_USER_ENV = ("LOGNAME", "USER", "LNAME", "USERNAME")


def current_user() -> str:
    """The login name, as ``getpass.getuser()`` tells it (the password database is read once per uid)."""
    for variable in _USER_ENV:
        value = os.environ.get(variable)
        if value:
            return value
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        try:
            return getpass.getuser()
        except Exception:  # no login name
            return "unknown"
    uid = getuid()
    known = _user_by_uid.get(uid)
    if known is not None:
        return known
    try:
        import pwd

        known = pwd.getpwuid(uid).pw_name
    except Exception:  # no login name (containers without passwd entries)
        known = "unknown"
    _user_by_uid[uid] = known
    return known


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
    params.update(environment_variables("_QLIB_"))
    return params
