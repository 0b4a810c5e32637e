"""Experiments in MLflow's ``mlruns`` layout: ``<root>/<id>/meta.yaml``, ``<root>/<id>/tags/``,
and ``<root>/.trash/<id>/`` once deleted. One part of :class:`~litexp.store.file.FileStore`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ...errors import ExpAlreadyExistError, InvalidInputError, LitexpError, NotFoundError, StoreCorruptError
from ...records import ACTIVE, DELETED, ExperimentRecord, ViewType
from .. import validation as v
from ..uri import path_to_file_url
from . import fs
from .key_files import Warnings, write_tag_file
from .layout import DEFAULT_EXPERIMENT_ID, Layout, meta_path
from .locks import StoreLock, is_network_fs
from .meta import RunMeta


def now_ms() -> int:
    """Now, in integer milliseconds since the epoch."""
    return int(time.time() * 1000)


def new_experiment_id() -> str:
    """An 18-digit random integer, as MLflow makes them."""
    return str(10**17 + int.from_bytes(os.urandom(8), "big") % (9 * 10**17))


#: A meta.yaml changed less than this before it was read is not trusted by its stat alone (the
#: time stamps of some file systems count whole seconds or two).
RACY_SECONDS = 2.0


_NameEntry = Tuple[str, Tuple[int, ...], int, bytes]


def _signature(st: os.stat_result) -> Tuple[int, ...]:
    """What changes when a file is rewritten, replaced or moved (or a folder's entries change)."""
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Experiments:
    """The experiment folders of one store.

    ``ensure_store`` is called before anything is created: it makes the root
    (with ``.trash`` and the experiment ``0``) when it does not exist yet.
    """

    def __init__(
        self, layout: Layout, lock: StoreLock, meta: RunMeta, warn: Warnings, ensure_store: Callable[[], None]
    ) -> None:
        self.layout = layout
        self.root = layout.root
        self.trash = layout.trash
        self.lock = lock
        self.meta = meta
        self.warn_once = warn
        self.ensure_store = ensure_store
        #: name → (id, meta.yaml signature, when it was read in ns, its bytes) of the active experiments,
        #: and the signature of the root folder taken before the scan that found them (see :meth:`find_id`)
        self._names: Dict[str, _NameEntry] = {}
        self._network: Optional[bool] = None
        self._names_root: Optional[Tuple[int, ...]] = None
        self._names_lock = threading.Lock()

    # ------------------------------------------------------------ experiments
    def _read_meta(self, exp_dir: str) -> Optional[Tuple[Dict[str, Any], str, os.stat_result, bytes]]:
        """An experiment folder's parsed meta.yaml, its name, the fstat and the bytes of what was read;
        None (with one warning) when it is missing or not this folder's experiment."""
        meta_file = meta_path(exp_dir)
        folder_id = os.path.basename(exp_dir)
        try:
            data, st = fs.read_with_stat(meta_file)
            meta = fs.parse_yaml(data)
            if not isinstance(meta, dict):
                raise ValueError("not a mapping")
            exp_id = str(meta["experiment_id"])
            name = meta["name"]
            if not isinstance(name, str):
                raise ValueError("name is not a string")
        except FileNotFoundError:
            return None
        except Exception as exc:  # unreadable meta: skip, with one warning
            self.warn_once(meta_file, "litexp: skipping experiment folder %s: unreadable meta.yaml (%s)", exp_dir, exc)
            return None
        if exp_id != folder_id:
            self.warn_once(
                meta_file, "litexp: skipping experiment folder %s: its meta.yaml says id %s", exp_dir, exp_id
            )
            return None
        return meta, name, st, data

    def _read_experiment(self, exp_dir: str) -> Optional[ExperimentRecord]:
        read = self._read_meta(exp_dir)
        if read is None:
            return None
        meta, name, _, _ = read
        exp_id = os.path.basename(exp_dir)
        tags = {}
        for key, path in fs.walk_files(self.layout.experiment_tags_dir(exp_dir)):
            try:
                tags[v.validate_key(key, "Tag")] = fs.read_text(path)
            except (LitexpError, OSError, UnicodeDecodeError):
                self.warn_once(path, "litexp: skipping unreadable experiment tag file %s", path)
        return ExperimentRecord(
            experiment_id=exp_id,
            name=name,
            artifact_location=str(meta.get("artifact_location") or path_to_file_url(exp_dir)),
            # MLflow 1.x moved deleted experiments to .trash without changing their meta
            lifecycle_stage=DELETED if self.layout.is_trashed(exp_dir) else (meta.get("lifecycle_stage") or ACTIVE),
            creation_time=meta.get("creation_time"),
            last_update_time=meta.get("last_update_time"),
            tags=tags,
        )

    def write_new(self, experiment_id: str, name: str, tags: Optional[Mapping[str, str]]) -> ExperimentRecord:
        """Write a new experiment folder (under the store lock, or before the store is visible)."""
        exp_dir = self.layout.experiment_dir(experiment_id)
        os.makedirs(exp_dir, exist_ok=True)
        created = now_ms()
        for key, value in (tags or {}).items():
            write_tag_file(exp_dir, self.layout.experiment_tags_dir(exp_dir), key, value)
        meta = {
            "artifact_location": path_to_file_url(exp_dir),
            "creation_time": created,
            "experiment_id": experiment_id,
            "last_update_time": created,
            "lifecycle_stage": ACTIVE,
            "name": name,
        }
        fs.write_yaml(meta_path(exp_dir), meta)
        record = self._read_experiment(exp_dir)
        assert record is not None
        return record

    def list_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> List[ExperimentRecord]:
        folders = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            folders += self.layout.experiment_folders(trashed=False)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            folders += self.layout.experiment_folders(trashed=True)
        found: List[ExperimentRecord] = []
        for path in folders:
            if not os.path.basename(path).isdigit():
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

    def find_id(self, name: str) -> Optional[str]:
        """The id of the experiment ``find_experiment(name, ACTIVE_ONLY)`` finds, or None; for
        starting runs by experiment name without reading every experiment's meta.yaml each time.

        The names of the active experiments are remembered from a scan of the root,
        and an answer is checked on every call: the root folder still has the stat it
        had before that scan (no experiment folder added, removed, renamed or moved to
        .trash since), and the experiment's meta.yaml still has the stat it had when
        read (not rewritten by a rename in another process). A meta.yaml changed less
        than :data:`RACY_SECONDS` before it was read is read again and compared
        instead (a rewrite within the file system's time granularity can keep every
        field of the stat). Anything else scans again; so does every call on a network
        file system, whose stats may come from a cache. A name several folders carry
        is never remembered.
        """
        if self._network is None:
            self._network = is_network_fs(self.root)
        if self._network:
            record = self.find_experiment(name, ViewType.ACTIVE_ONLY)
            return record.experiment_id if record is not None else None
        try:
            root_sig = _signature(os.stat(self.root))
        except OSError:
            return None  # no store (yet): the caller looks it up the usual way
        with self._names_lock:
            if root_sig != self._names_root:
                self._names.clear()
                self._names_root = None
            entry = self._names.get(name)
        if entry is not None:
            exp_id, sig, read_ns, data = entry
            path = meta_path(self.layout.experiment_dir(exp_id))
            if read_ns - max(sig[3], sig[4]) > RACY_SECONDS * 1e9:
                try:
                    if _signature(os.stat(path)) == sig:
                        return exp_id
                except OSError:
                    pass  # gone (deleted, moved to .trash): scan
            else:  # changed just before it was read: the stat cannot tell, the content can
                read_ns = time.time_ns()
                try:
                    now, st = fs.read_with_stat(path)
                except OSError:
                    now = None
                if now == data:
                    with self._names_lock:
                        if self._names_root == root_sig:
                            self._names[name] = (exp_id, _signature(st), read_ns, data)
                    return exp_id
        return self._scan_names(name, root_sig)

    def _scan_names(self, name: str, root_sig: Tuple[int, ...]) -> Optional[str]:
        """Read every active experiment's meta.yaml (root stat taken before): remember each name, answer ``name``."""
        read_ns = time.time_ns()
        names: Dict[str, _NameEntry] = {}
        repeated = set()
        for path in self.layout.experiment_folders(trashed=False):
            if not os.path.basename(path).isdigit():
                self.warn_once(path, "litexp: skipping %s: not an experiment folder", path)
                continue
            read = self._read_meta(path)
            if read is None:
                continue
            _, exp_name, st, data = read
            if exp_name in names:
                repeated.add(exp_name)
            else:
                names[exp_name] = (os.path.basename(path), _signature(st), read_ns, data)
        found = names.get(name)
        for repeat in repeated:  # a name in several folders: always scanned (the first in id order is found)
            del names[repeat]
        with self._names_lock:
            self._names = names
            self._names_root = root_sig
        return found[0] if found is not None else None

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        exp_dir = self.layout.find_experiment_dir(experiment_id)
        record = self._read_experiment(exp_dir) if exp_dir else None
        if record is None:
            raise NotFoundError(f"No experiment with id {experiment_id!r} in the store {self.root}.")
        return record

    def create_experiment(self, name: str, tags: Optional[Mapping[str, str]] = None) -> ExperimentRecord:
        name = v.validate_experiment_name(name)
        tags = v.tags(tags)
        self.ensure_store()
        with self.lock:
            existing = self.find_experiment(name)
            if existing is not None:
                raise ExpAlreadyExistError(self._taken_message(existing))
            return self.write_new(self._unused_experiment_id(), name, tags)

    def get_or_create_experiment(self, name: str) -> Tuple[ExperimentRecord, bool]:
        name = v.validate_experiment_name(name)
        self.ensure_store()
        existing = self.find_experiment(name)
        if existing is None:
            with self.lock:
                existing = self.find_experiment(name)
                if existing is None:
                    return self.write_new(self._unused_experiment_id(), name, None), True
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
            if not os.path.exists(self.layout.experiment_dir(exp_id)) and not os.path.exists(
                self.layout.trashed_experiment_dir(exp_id)
            ):
                return exp_id

    def delete_experiment(self, experiment_id: str) -> None:
        experiment_id = v.validate_experiment_id(experiment_id)
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInputError("The default experiment '0' cannot be deleted.")
        with self.lock:
            exp_dir = self.layout.experiment_dir(experiment_id)
            record = self._read_experiment(exp_dir) if os.path.isdir(exp_dir) else None
            if record is None:
                raise NotFoundError(f"No active experiment with id {experiment_id!r} in {self.root}.")
            deleted_at = now_ms()

            def delete(meta: Dict[str, Any]) -> bool:
                if meta.get("lifecycle_stage", ACTIVE) != ACTIVE:
                    return False
                meta["lifecycle_stage"] = DELETED
                meta["deleted_time"] = deleted_at
                return True

            self._rewrite_runs_locked(exp_dir, delete)
            self._rewrite_experiment_meta(exp_dir, lifecycle_stage=DELETED, last_update_time=deleted_at)
            os.replace(exp_dir, self.layout.trashed_experiment_dir(experiment_id))
            self.layout.forget_runs()

    def restore_experiment(self, experiment_id: str) -> None:
        experiment_id = v.validate_experiment_id(experiment_id)
        with self.lock:
            src = self.layout.trashed_experiment_dir(experiment_id)
            if not os.path.isfile(meta_path(src)):
                raise NotFoundError(f"No deleted experiment with id {experiment_id!r} in {self.root}.")
            dst = self.layout.experiment_dir(experiment_id)
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
            self.layout.forget_runs()

            def restore(meta: Dict[str, Any]) -> bool:
                if meta.get("lifecycle_stage") != DELETED:
                    return False
                meta["lifecycle_stage"] = ACTIVE
                meta.pop("deleted_time", None)
                return True

            self._rewrite_runs_locked(dst, restore)
            self._rewrite_experiment_meta(dst, lifecycle_stage=ACTIVE, last_update_time=now_ms())

    def _rewrite_runs_locked(self, exp_dir: str, change: Callable[[Dict[str, Any]], bool]) -> None:
        """Apply ``change`` to every readable run of an experiment (the store lock is held)."""
        for run_dir in self.layout.run_dirs_of(exp_dir):
            try:
                self.meta.rewrite_locked(run_dir, os.path.basename(run_dir), change)
            except StoreCorruptError:
                continue  # not a readable run: nothing of it to change

    def _rewrite_experiment_meta(self, exp_dir: str, **changes: Any) -> None:
        path = meta_path(exp_dir)
        meta = fs.load_yaml(path)
        meta.update(changes)
        fs.write_yaml(path, meta)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        key = v.validate_key(key, "Tag")
        text = v.tag_value(key, value)
        record = self.get_experiment(experiment_id)
        if record.lifecycle_stage != ACTIVE:
            raise InvalidInputError(f"Experiment {experiment_id} is deleted; restore it before setting tags.")
        exp_dir = self.layout.experiment_dir(record.experiment_id)
        write_tag_file(exp_dir, self.layout.experiment_tags_dir(exp_dir), key, text)
