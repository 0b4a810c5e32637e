"""Tracking URIs: ``file:/abs``, ``file:///abs``, ``file:relative``, plain paths, ``~``."""

from __future__ import annotations

import os
import threading
from typing import Dict
from urllib.parse import unquote, urlparse

from .errors import InvalidInputError
from .store import FileStore

_stores: Dict[str, FileStore] = {}
_stores_lock = threading.Lock()


def uri_to_path(uri: str) -> str:
    """The absolute local folder a tracking URI names."""
    if not isinstance(uri, (str, os.PathLike)):
        raise InvalidInputError(f"A tracking URI must be a string, got {type(uri).__name__}.")
    uri = os.fspath(uri)
    if not uri.strip():
        raise InvalidInputError("The tracking URI is empty; use a folder such as 'file:./mlruns'.")
    if uri.startswith("file:"):
        rest = uri[len("file:"):]
        if rest.startswith("//"):
            parsed = urlparse(uri)
            if parsed.netloc not in ("", "localhost"):
                raise InvalidInputError(
                    f"Tracking URI {uri!r} names the host {parsed.netloc!r}; litexp only reads local "
                    "folders (use file:///absolute/path)."
                )
            path = unquote(parsed.path)
        else:
            path = unquote(rest)
    else:
        parsed = urlparse(uri)
        if parsed.scheme and len(parsed.scheme) > 1:
            raise InvalidInputError(
                f"Tracking URI {uri!r} uses the scheme {parsed.scheme!r}; litexp stores runs in local "
                "folders only (file:/path or a plain path)."
            )
        path = uri
    return os.path.abspath(os.path.expanduser(path))


def path_to_uri(path: str) -> str:
    """``file:`` URI of a folder (absolute, as Qlib's default URI is written)."""
    return "file:" + os.path.abspath(path)


def open_store(uri: str) -> FileStore:
    """The (cached) store of a tracking URI; created with its default experiment when new."""
    root = uri_to_path(uri)
    with _stores_lock:
        store = _stores.get(root)
        if store is None or not os.path.isdir(root):
            store = FileStore(root)
            _stores[root] = store
        return store
