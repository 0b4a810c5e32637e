"""Files named by keys (metrics, params, tags): where their files go, how a tag is written; and the one-warning-per-damaged-file notice every part of the store uses.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from ...errors import InvalidInputError
from . import fs
from .layout import key_path

logger = logging.getLogger("litexp")


class Warnings:
    """One warning per unreadable thing and store object."""

    def __init__(self) -> None:
        self._seen: set = set()
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str, *args: Any) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        logger.warning(message, *args)


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
        raise InvalidInputError(
            f"{kind} key {key!r} cannot be stored: other {kind.lower()} keys start with {key + '/'!r}."
        )
    return path


def write_tag_file(tmp_folder: str, folder: str, key: str, value: str) -> None:
    fs.replace_file(data_path(folder, key, "Tag"), value.encode("utf-8"), tmp_folder)
