"""Files named by keys (metrics, params, tags): where their files go, how a tag is written; and the one-warning-per-damaged-file notice every part of the store uses."""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from typing import Any, Callable, Optional, Set

from ...errors import InvalidInputError
from . import fs
from .layout import key_path

logger = logging.getLogger("litexp")


class Warnings:
    """One warning per unreadable thing and store object, on one line."""

    def __init__(self) -> None:
        self._seen: Set[Any] = set()
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str, *args: Any) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        # one line per warning, whatever the arguments quote (a YAML parser's message spans lines)
        logger.warning(
            message,
            *(re.sub(r"\s*[\r\n]+\s*", " ", str(a)) if isinstance(a, (str, BaseException)) else a for a in args),
        )


def data_path(folder: str, key: str, kind: str) -> str:
    """The file of a key in ``folder``, its parent folders made; a clash with another key is refused."""
    path = key_path(folder, key)
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(
            f"{kind} key {key!r} cannot be stored: a {kind.lower()} named like one of its folders exists."
        ) from None
    if os.path.isdir(path):
        raise _folder_clash(key, kind)
    return path


def _folder_clash(key: str, kind: str) -> InvalidInputError:
    return InvalidInputError(
        f"{kind} key {key!r} cannot be stored: other {kind.lower()} keys start with {key + '/'!r}."
    )


#: Errors of a write straight to a key's file that :func:`data_path` explains (or fixes, by
#: making the key's folders): a missing folder, a parent that is a file, the path a folder.
_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
_PATH_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR})


def create_key_file(tmp_folder: str, folder: str, key: str, kind: str, data: bytes) -> "tuple[bool, str]":
    """Create the file of a key with ``data`` (atomically, only if missing): (made, path).

    A plain key's file is created straight away in its (existing) kind folder;
    :func:`data_path`'s folders and checks are only needed for a key with ``/`` or
    when the straight write fails. A folder at the key's path is refused.
    """
    if "/" in key:
        path = data_path(folder, key, kind)
        made = fs.create_file(path, data, tmp_folder)
    else:
        path = key_path(folder, key)
        try:
            made = fs.create_file(path, data, tmp_folder)
        except _PATH_ERRORS:
            made = fs.create_file(data_path(folder, key, kind), data, tmp_folder)
    if not made and os.path.isdir(path):
        raise _folder_clash(key, kind)
    return made, path


def append_key_file(
    tmp_folder: str, folder: str, key: str, kind: str, render: Callable[[Optional[bytes]], bytes], create_first: bool
) -> str:
    """:func:`fs.append_after_last_line` to the file of a key; its path.

    A plain key's file is opened (or created, first when ``create_first``) straight
    away; :func:`data_path` makes the folders or explains the clash when that fails.
    """
    path = data_path(folder, key, kind) if "/" in key else key_path(folder, key)
    try:
        fs.append_after_last_line(path, render, tmp_folder, create_first)
    except IsADirectoryError:
        raise _folder_clash(key, kind) from None
    except (FileNotFoundError, NotADirectoryError):
        if "/" in key:
            raise
        fs.append_after_last_line(data_path(folder, key, kind), render, tmp_folder, create_first)
    return path


def write_tag_file(tmp_folder: str, folder: str, key: str, value: str) -> None:
    """Write (or overwrite) a tag file atomically; a plain key straight into its folder."""
    data = value.encode("utf-8")
    if "/" not in key:
        try:
            fs.replace_file(key_path(folder, key), data, tmp_folder)
            return
        except OSError as exc:
            if exc.errno not in _PATH_ERRNOS:
                raise
    fs.replace_file(data_path(folder, key, "Tag"), data, tmp_folder)
