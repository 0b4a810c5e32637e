"""Tracking URIs: the one parser, and the one path ↔ URI pair.

Accepted for the file store: ``file:/abs``, ``file:///abs``, ``file:relative``,
plain paths and ``~``. Other schemes are looked up in :mod:`.registry`.
"""

from __future__ import annotations

import os
from typing import Tuple
from urllib.parse import unquote, urlparse

from ..errors import InvalidInputError

FILE = "file"


def split_uri(uri: str) -> Tuple[str, str]:
    """``(scheme, rest)``: ``("file", <absolute path>)`` for file URIs and plain paths."""
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
        return FILE, os.path.abspath(os.path.expanduser(path))
    parsed = urlparse(uri)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        return parsed.scheme.lower(), uri
    return FILE, os.path.abspath(os.path.expanduser(uri))


def uri_to_path(uri: str) -> str:
    """The absolute local folder a file tracking URI names."""
    scheme, rest = split_uri(uri)
    if scheme != FILE:
        raise InvalidInputError(
            f"Tracking URI {uri!r} uses the scheme {scheme!r}; only file stores have a local folder "
            "(file:/path or a plain path)."
        )
    return rest


def path_to_uri(path: str) -> str:
    """``file:`` URI of a folder (absolute, as Qlib's default URI is written)."""
    return "file:" + os.path.abspath(path)
