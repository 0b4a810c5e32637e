"""Experiments in MLflow's ``mlruns`` layout: ``<root>/<id>/meta.yaml``, ``<root>/<id>/tags/``,
and ``<root>/.trash/<id>/`` once deleted. Part of :class:`~litexp.store.FileStore`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote_from_bytes

from ..errors import ExpAlreadyExistError, InvalidInputError, LitexpError, NotFoundError
from . import _fs
from . import validation as v
from .locks import StoreLock
from .records import ACTIVE, DELETED, ExperimentRecord, ViewType

logger = logging.getLogger("litexp")

TRASH = ".trash"
MODELS_FOLDER = "models"
META = "meta.yaml"
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})

def now_ms() -> int:
    """Now, in integer milliseconds since the epoch."""
    return int(time.time() * 1000)


def new_experiment_id() -> str:
    """An 18-digit random integer, as MLflow makes them."""
    return str(10**17 + int.from_bytes(os.urandom(8), "big") % (9 * 10**17))


def _is_experiment_folder_name(name: str) -> bool:
    return name.isdigit()


class ExperimentFiles:
    """Experiment folders of a store rooted at ``self.root`` (set up by :class:`FileStore`)."""

    root: str
    trash: str
    lock: StoreLock
    _run_dirs: Dict[str, str]
    _warned: set
    _warn_lock: threading.Lock

    # ------------------------------------------------------------------ utils
    def warn_once(self, key: str, message: str, *args: Any) -> None:
        """Log a warning about an unreadable thing once per store object."""
        with self._warn_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)

    def _exp_dir_active(self, experiment_id: str) -> str:
        return os.path.join(self.root, experiment_id)

    def _exp_dir(self, experiment_id: str) -> Optional[str]:
        """The folder of an experiment, active first, then in the trash; None if missing."""
        experiment_id = v.validate_experiment_id(experiment_id)
        for parent in (self.root, self.trash):
            path = os.path.join(parent, experiment_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        return None

    def _uri(self, path: str) -> str:
        """``file://`` URI of an absolute path, as ``pathlib.Path.as_uri`` writes it."""
        return "file://" + quote_from_bytes(os.fsencode(path))

    # ------------------------------------------------------------ experiments
    def _read_experiment(self, exp_dir: str) -> Optional[ExperimentRecord]:
        meta_path = os.path.join(exp_dir, META)
        folder_id = os.path.basename(exp_dir)
        try:
            meta = _fs.load_yaml(meta_path)
            if not isinstance(meta, dict):
                raise ValueError("not a mapping")
            exp_id = str(meta["experiment_id"])
            name = meta["name"]
            if not isinstance(name, str):
                raise ValueError("name is not a string")
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreadable meta: skip, with one warning
            self.warn_once(meta_path, "litexp: skipping experiment folder %s: unreadable meta.yaml (%s)", exp_dir, exc)
            return None
        if exp_id != folder_id:
            self.warn_once(
                meta_path, "litexp: skipping experiment folder %s: its meta.yaml says id %s", exp_dir, exp_id
            )
            return None
        tags = {}
        for key, path in _fs.walk_files(os.path.join(exp_dir, "tags")):
            try:
                tags[v.validate_key(key, "Tag")] = _fs.read_text(path)
            except (LitexpError, OSError, UnicodeDecodeError):
                self.warn_once(path, "litexp: skipping unreadable experiment tag file %s", path)
        return ExperimentRecord(
            experiment_id=exp_id,
            name=name,
            artifact_location=str(meta.get("artifact_location") or self._uri(exp_dir)),
            # MLflow 1.x moved deleted experiments to .trash without changing their meta
            lifecycle_stage=DELETED if os.path.dirname(exp_dir) == self.trash else (meta.get("lifecycle_stage") or ACTIVE),
            creation_time=meta.get("creation_time"),
            last_update_time=meta.get("last_update_time"),
            tags=tags,
        )

    def _write_new_experiment(self, experiment_id: str, name: str, tags: Optional[Mapping[str, str]]) -> ExperimentRecord:
        exp_dir = self._exp_dir_active(experiment_id)
        os.makedirs(exp_dir, exist_ok=True)
        created = now_ms()
        for key, value in (tags or {}).items():
            self._write_tag_file(exp_dir, os.path.join(exp_dir, "tags"), key, value)
        meta = {
            "artifact_location": self._uri(exp_dir),
            "creation_time": created,
            "experiment_id": experiment_id,
            "last_update_time": created,
            "lifecycle_stage": ACTIVE,
            "name": name,
        }
        _fs.write_yaml(os.path.join(exp_dir, META), meta)
        record = self._read_experiment(exp_dir)
        assert record is not None
        return record

    def list_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> List[ExperimentRecord]:
        parents = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            parents.append(self.root)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            parents.append(self.trash)
        found: List[ExperimentRecord] = []
        for parent in parents:
            for name in sorted(_fs.list_subfolders(parent)):
                if parent == self.root and name in (TRASH, MODELS_FOLDER):
                    continue  # MLflow's trash, and the model registry folder `mlflow server` makes
                path = os.path.join(parent, name)
                if not _is_experiment_folder_name(name):
                    self.warn_once(path, "litexp: skipping %s: not an experiment folder", path)
                    continue
                record = self._read_experiment(path)
                if record is not None:
                    found.append(record)
        return found

    def find_experiment(self, name: str, view_type: int = ViewType.ALL) -> Optional[ExperimentRecord]:
        for record in self.list_experiments(view_type):
            if record.name == name:
                return record
        return None

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        exp_dir = self._exp_dir(experiment_id)
        record = self._read_experiment(exp_dir) if exp_dir else None
        if record is None:
            raise NotFoundError(f"No experiment with id {experiment_id!r} in the store {self.root}.")
        return record

    def create_experiment(self, name: str, tags: Optional[Mapping[str, str]] = None) -> ExperimentRecord:
        name = v.validate_experiment_name(name)
        tags = self._validated_tags(tags)
        with self.lock:
            existing = self.find_experiment(name)
            if existing is not None:
                raise ExpAlreadyExistError(self._taken_message(existing))
            return self._write_new_experiment(self._unused_experiment_id(), name, tags)

    def get_or_create_experiment(self, name: str) -> Tuple[ExperimentRecord, bool]:
        name = v.validate_experiment_name(name)
        existing = self.find_experiment(name)
        if existing is None:
            with self.lock:
                existing = self.find_experiment(name)
                if existing is None:
                    return self._write_new_experiment(self._unused_experiment_id(), name, None), True
        if existing.lifecycle_stage != ACTIVE:
            raise ExpAlreadyExistError(self._taken_message(existing))
        return existing, False

    def _taken_message(self, existing: ExperimentRecord) -> str:
        if existing.lifecycle_stage == DELETED:
            return (
                f"Experiment {existing.name!r} exists in the deleted state (id {existing.experiment_id}). "
                "Restore it, or remove its folder from .trash, to use the name again."
            )
        return f"Experiment {existing.name!r} already exists (id {existing.experiment_id})."

    def _unused_experiment_id(self) -> str:
        while True:
            exp_id = new_experiment_id()
            if not os.path.exists(os.path.join(self.root, exp_id)) and not os.path.exists(
                os.path.join(self.trash, exp_id)
            ):
                return exp_id

    def delete_experiment(self, experiment_id: str) -> None:
        experiment_id = v.validate_experiment_id(experiment_id)
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInputError("The default experiment '0' cannot be deleted.")
        with self.lock:
            exp_dir = self._exp_dir_active(experiment_id)
            record = self._read_experiment(exp_dir) if os.path.isdir(exp_dir) else None
            if record is None:
                raise NotFoundError(f"No active experiment with id {experiment_id!r} in {self.root}.")
            deleted_at = now_ms()
            for run_dir in self._run_dirs_of(exp_dir):
                meta = self._read_meta_quietly(run_dir)
                if meta is not None and meta.get("lifecycle_stage", ACTIVE) == ACTIVE:
                    meta["lifecycle_stage"] = DELETED
                    meta["deleted_time"] = deleted_at
                    _fs.write_yaml(os.path.join(run_dir, META), meta)
            self._rewrite_experiment_meta(exp_dir, lifecycle_stage=DELETED, last_update_time=deleted_at)
            os.replace(exp_dir, os.path.join(self.trash, experiment_id))
            self._run_dirs.clear()

    def restore_experiment(self, experiment_id: str) -> None:
        experiment_id = v.validate_experiment_id(experiment_id)
        with self.lock:
            src = os.path.join(self.trash, experiment_id)
            if not os.path.isfile(os.path.join(src, META)):
                raise NotFoundError(f"No deleted experiment with id {experiment_id!r} in {self.root}.")
            dst = self._exp_dir_active(experiment_id)
            if os.path.exists(dst):
                raise ExpAlreadyExistError(f"Cannot restore experiment {experiment_id}: {dst} exists.")
            record = self._read_experiment(src)
            if record is not None:
                clash = self.find_experiment(record.name, ViewType.ACTIVE_ONLY)
                if clash is not None:
                    raise ExpAlreadyExistError(
                        f"Cannot restore experiment {experiment_id}: the name {record.name!r} is in use."
                    )
            os.replace(src, dst)
            self._run_dirs.clear()
            for run_dir in self._run_dirs_of(dst):
                meta = self._read_meta_quietly(run_dir)
                if meta is not None and meta.get("lifecycle_stage") == DELETED:
                    meta["lifecycle_stage"] = ACTIVE
                    meta.pop("deleted_time", None)
                    _fs.write_yaml(os.path.join(run_dir, META), meta)
            self._rewrite_experiment_meta(dst, lifecycle_stage=ACTIVE, last_update_time=now_ms())

    def _rewrite_experiment_meta(self, exp_dir: str, **changes: Any) -> None:
        meta_path = os.path.join(exp_dir, META)
        meta = _fs.load_yaml(meta_path)
        meta.update(changes)
        _fs.write_yaml(meta_path, meta)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        key = v.validate_key(key, "Tag")
        text = v.tag_value(key, value)
        record = self.get_experiment(experiment_id)
        if record.lifecycle_stage != ACTIVE:
            raise InvalidInputError(f"Experiment {experiment_id} is deleted; restore it before setting tags.")
        exp_dir = self._exp_dir_active(record.experiment_id)
        self._write_tag_file(exp_dir, os.path.join(exp_dir, "tags"), key, text)

    # ------------------------------------------------------- shared helpers
    def _run_dirs_of(self, exp_dir: str) -> List[str]:
        return [
            os.path.join(exp_dir, name)
            for name in _fs.list_subfolders(exp_dir)
            if name not in RESERVED_EXPERIMENT_FOLDERS
        ]

    def _read_meta_quietly(self, run_dir: str) -> Optional[Dict[str, Any]]:
        try:
            meta = _fs.load_yaml(os.path.join(run_dir, META))
        except Exception:
            return None
        return meta if isinstance(meta, dict) else None


    def _validated_tags(self, tags: Optional[Mapping[str, Any]]) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for key, value in (tags or {}).items():
            out[v.validate_key(key, "Tag")] = v.tag_value(key, value)
        return out

    def _data_path(self, folder: str, key: str, kind: str) -> str:
        path = os.path.join(folder, *key.split("/"))
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

    def _write_tag_file(self, tmp_folder: str, folder: str, key: str, value: str) -> None:
        _fs.replace_file(self._data_path(folder, key, "Tag"), value.encode("utf-8"), tmp_folder)

