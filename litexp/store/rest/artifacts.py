"""Run artifacts of a server: through its artifact proxy (``mlflow-artifacts:``), or a local folder.

``mlflow-artifacts:/<path>`` is served by the tracking server itself
(``--serve-artifacts``), ``mlflow-artifacts://host:port/<path>`` by that host;
``file:`` and plain paths are folders this machine can write (a shared file
system). Cloud schemes need their SDKs, which litexp does not carry: they are
refused with what to do instead.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from typing import IO, Callable, List, Optional

from ...errors import LitexpError, NotFoundError
from ...records import ArtifactEntry
from ..uri import local_path_of
from .http import ARTIFACTS_API, HttpClient, check


class ArtifactLocation:
    """Where one run's artifacts live, and the operations on them."""

    def __init__(self, artifact_uri: str, client: HttpClient) -> None:
        self.uri = artifact_uri
        parsed = urllib.parse.urlsplit(artifact_uri)
        self.local: Optional[str] = None
        self.client = client
        self.base = ""
        if parsed.scheme == "mlflow-artifacts":
            if parsed.netloc:
                self.client = HttpClient(f"{client.scheme}://{parsed.netloc}")
            self.base = parsed.path.strip("/")
        elif parsed.scheme in ("", "file") or len(parsed.scheme) == 1:
            self.local = local_path_of(artifact_uri, "artifact location")
        elif parsed.scheme in ("http", "https") and ARTIFACTS_API in parsed.path:
            self.client = HttpClient(f"{parsed.scheme}://{parsed.netloc}")
            self.base = parsed.path.split(ARTIFACTS_API, 1)[1].strip("/")
        else:
            raise LitexpError(
                f"The run's artifacts are at {artifact_uri!r}, which needs a {parsed.scheme} client that litexp "
                "does not include. Start the MLflow server with --serve-artifacts (and --artifacts-destination "
                f"{parsed.scheme}://...) so that artifacts go through the server, or use MLflow's own client."
            )

    def _remote(self, path: str) -> str:
        joined = "/".join(p for p in (self.base, path.strip("/")) if p)
        return ARTIFACTS_API + "/" + urllib.parse.quote(joined)

    # writing ------------------------------------------------------------------------
    def upload(self, local_path: str, artifact_path: Optional[str]) -> None:
        """A file, or a folder's content, under ``artifact_path``."""
        if os.path.isdir(local_path):
            files = []
            for folder, _, names in os.walk(local_path):
                rel = os.path.relpath(folder, local_path)
                for name in sorted(names):
                    sub = "/".join(p for p in (artifact_path, "" if rel == "." else rel.replace(os.sep, "/")) if p)
                    files.append((os.path.join(folder, name), sub))
        else:
            files = [(local_path, artifact_path or "")]
        for src, sub in files:
            dest = "/".join(p for p in (sub, os.path.basename(src)) if p)
            if self.local is not None:
                target = os.path.join(self.local, *dest.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(src, target)
                continue
            response = self.client.request("PUT", self._remote(dest), _opener(src), "application/octet-stream")
            check(response, self.client, f"upload of artifact {dest}")

    # reading ------------------------------------------------------------------------
    def list(self, path: Optional[str]) -> List[ArtifactEntry]:
        path = (path or "").strip("/")
        if self.local is not None:
            folder = os.path.join(self.local, *path.split("/")) if path else self.local
            if not os.path.isdir(folder):
                return []
            entries = []
            for name in sorted(os.listdir(folder)):
                full = os.path.join(folder, name)
                rel = f"{path}/{name}" if path else name
                is_dir = os.path.isdir(full)
                entries.append(ArtifactEntry(rel, is_dir, None if is_dir else os.path.getsize(full)))
            return entries
        query = "/".join(p for p in (self.base, path) if p)
        response = self.client.request("GET", ARTIFACTS_API + "?" + urllib.parse.urlencode({"path": query}))
        check(response, self.client, f"listing of artifacts {path or '/'}")
        entries = []
        for item in response.json().get("files") or ():
            name = str(item["path"]).rsplit("/", 1)[-1]
            rel = f"{path}/{name}" if path else name
            size = item.get("file_size")
            entries.append(ArtifactEntry(rel, bool(item.get("is_dir")), None if size is None else int(size)))
        return sorted(entries, key=lambda e: e.path)

    def download(self, path: str, dst_folder: str) -> str:
        """Copy a file or folder under ``dst_folder``; the local path."""
        path = path.strip("/")
        target = os.path.join(dst_folder, *path.split("/")) if path else dst_folder
        if self.local is not None:
            source = os.path.join(self.local, *path.split("/")) if path else self.local
            if os.path.isdir(source):
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif os.path.isfile(source):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(source, target)
            else:
                raise NotFoundError(f"No artifact {path!r} under {self.uri}.")
            return target
        children = self.list(path or None)
        if path and not children:
            return self._download_file(path, dst_folder)
        os.makedirs(target, exist_ok=True)
        for child in children:
            if child.is_dir:
                self.download(child.path, dst_folder)
            else:
                self._download_file(child.path, dst_folder)
        return target

    def _download_file(self, path: str, dst_folder: str) -> str:
        target = os.path.join(dst_folder, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = target + ".part"
        with open(partial, "wb") as fh:
            response = self.client.request("GET", self._remote(path), sink=fh)
        if response.status != 200:
            os.unlink(partial)
            if response.status == 404:
                raise NotFoundError(f"No artifact {path!r} under {self.uri}.")
            check(response, self.client, f"download of artifact {path}")
        os.replace(partial, target)
        return target


def _opener(path: str) -> Callable[[], IO[bytes]]:
    """Opens the file afresh for each try of an upload."""

    def open_file() -> IO[bytes]:
        return open(path, "rb")

    return open_file
