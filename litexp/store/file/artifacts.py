"""A run's artifact folder: copying files in, listing, and copying out.

Nothing is ever written outside the folder: artifact paths are normalised and
refused when they would escape, and a source folder holding a symbolic link
that points outside itself is refused before anything is copied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import List, Optional, Tuple

from ...errors import InvalidInputError, NotFoundError
from ...records import ArtifactEntry
from ..validation import artifact_subpath
from . import fs


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


class ArtifactFolder:
    """The ``artifacts/`` folder of one run."""

    def __init__(self, root: str, tmp_folder: str) -> None:
        self.root = root
        self.tmp_folder = tmp_folder

    def _resolve(self, artifact_path: Optional[str]) -> str:
        sub = artifact_subpath(artifact_path)
        path = os.path.join(self.root, *sub.split("/")) if sub else self.root
        if not _inside(path, self.root):
            raise InvalidInputError(f"Artifact path {artifact_path!r} leads outside the run's artifact folder.")
        return path

    def _copy_file(self, src: str, dst: str) -> None:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(dst):
            raise InvalidInputError(f"Cannot store file artifact at {dst}: a folder of that name exists.")
        tmp = fs.temp_path_in(self.tmp_folder, os.path.basename(dst))
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _plan_folder_copy(self, src: str, dst: str) -> List[Tuple[str, str]]:
        plan: List[Tuple[str, str]] = []
        real_src = os.path.realpath(src)
        for current, dirs, files in os.walk(src, followlinks=False):
            for name in dirs + files:
                full = os.path.join(current, name)
                if os.path.islink(full) and not _inside(full, real_src):
                    raise InvalidInputError(
                        f"{full} is a symbolic link to {os.path.realpath(full)}, outside {src}; "
                        "copy the target into the folder or remove the link."
                    )
            for name in dirs:
                full = os.path.join(current, name)
                if os.path.islink(full):  # a link to a folder inside src: copy its files too
                    for sub_cur, _, sub_files in os.walk(full, followlinks=False):
                        for f in sub_files:
                            s = os.path.join(sub_cur, f)
                            plan.append((s, os.path.join(dst, os.path.relpath(s, src))))
            for name in files:
                full = os.path.join(current, name)
                if not os.path.isfile(full):
                    continue  # sockets, fifos, broken links
                plan.append((full, os.path.join(dst, os.path.relpath(full, src))))
        return plan

    def add(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        """Copy a file (into ``artifact_path``) or the content of a folder."""
        local_path = os.fspath(local_path)
        dest = self._resolve(artifact_path)
        os.makedirs(self.root, exist_ok=True)
        if os.path.isfile(local_path):
            self._copy_file(local_path, os.path.join(dest, os.path.basename(local_path)))
        elif os.path.isdir(local_path):
            for src, dst in self._plan_folder_copy(local_path, dest):
                self._copy_file(src, dst)
            os.makedirs(dest, exist_ok=True)
        else:
            raise NotFoundError(f"Cannot log artifact: {local_path} does not exist.")

    def existing(self, path: str) -> str:
        """The in-store path of an existing artifact."""
        full = self._resolve(path)
        if not artifact_subpath(path) or not os.path.exists(full):
            raise NotFoundError(f"No artifact {path!r} in {self.root}.")
        return full

    def list(self, path: Optional[str] = None) -> List[ArtifactEntry]:
        folder = self._resolve(path)
        prefix = artifact_subpath(path)
        if not os.path.isdir(folder):
            return []
        entries = []
        with os.scandir(folder) as it:
            for e in sorted(it, key=lambda e: e.name):
                rel = f"{prefix}/{e.name}" if prefix else e.name
                if e.is_dir():
                    entries.append(ArtifactEntry(rel, True, None))
                else:
                    try:
                        size: Optional[int] = e.stat().st_size
                    except OSError:  # a dangling link: listed, without a size
                        size = None
                    entries.append(ArtifactEntry(rel, False, size))
        return entries

    def download(self, path: str, dst_path: Optional[str] = None) -> str:
        """Copy an artifact (file or folder) under ``dst_path`` (a new temp folder by default)."""
        src = self.existing(path)
        dst_root = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="litexp-")
        os.makedirs(dst_root, exist_ok=True)
        target = os.path.join(dst_root, *artifact_subpath(path).split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, target)
        return target
