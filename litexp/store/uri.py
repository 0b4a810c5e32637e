"""URIs: the one parser, and the path ↔ URI conversions.

Tracking URIs accepted for the file store: ``file:/abs``, ``file:///abs``,
``file:relative``, plain paths and ``~``; other schemes are looked up in
:mod:`.registry`. A tracking URI made from a path is written ``file:/abs`` (as
Qlib writes its default); an artifact location ``file:///abs`` with quoting (as
MLflow writes it, :func:`path_to_file_url`).
"""

from __future__ import annotations

import os
import re
from typing import Optional, Tuple
from urllib.parse import quote_from_bytes, unquote, urlparse

from ..errors import InvalidInputError

FILE = "file"


def _file_uri_path(uri: str) -> Optional[str]:
    """The path of a ``file:`` URI; None when it names another host."""
    rest = uri[len("file:") :]
    if rest.startswith("//"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            return None
        return unquote(parsed.path)
    return unquote(rest)


def split_uri(uri: str) -> Tuple[str, str]:
    """``(scheme, rest)``: ``("file", <absolute path>)`` for file URIs and plain paths."""
    if not isinstance(uri, (str, os.PathLike)):
        raise InvalidInputError(f"A tracking URI must be a string, got {type(uri).__name__}.")
    uri = os.fspath(uri)
    if not uri.strip():
        raise InvalidInputError("The tracking URI is empty; use a folder such as 'file:./mlruns'.")
    if uri.startswith("file:"):
        path = _file_uri_path(uri)
        if path is None:
            raise InvalidInputError(
                f"Tracking URI {uri!r} names the host {urlparse(uri).netloc!r}; litexp only reads local "
                "folders (use file:///absolute/path)."
            )
        return FILE, os.path.abspath(os.path.expanduser(path))
    parsed = urlparse(uri)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
        return parsed.scheme.lower(), uri
    return FILE, os.path.abspath(os.path.expanduser(uri))


def canonical_uri(uri: str) -> str:
    """One spelling per store: ``file:/abs`` for folders, a server's URL without a final ``/``."""
    scheme, location = split_uri(uri)
    return path_to_uri(location) if scheme == FILE else location.rstrip("/")


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
    """``file:`` tracking URI of a folder (absolute, as Qlib's default URI is written)."""
    return "file:" + os.path.abspath(path)


def path_to_file_url(path: str) -> str:
    """``file://`` URL of an absolute path, as MLflow writes artifact locations (``Path.as_uri``)."""
    return "file://" + quote_from_bytes(os.fsencode(path))


def local_path_of(uri: str, what: str) -> str:
    """The local path an artifact URI names: a ``file:`` URI or a plain path; else a clear error."""
    if uri.startswith("file:"):
        path = _file_uri_path(uri)
        if path is None:
            raise InvalidInputError(f"{what} are on host {urlparse(uri).netloc!r} ({uri}).")
        return os.path.abspath(path)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", uri):
        raise InvalidInputError(f"{what} are at {uri}; litexp reads and writes local artifact folders only.")
    return os.path.abspath(uri)
