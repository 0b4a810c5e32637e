"""Runs in MLflow's ``mlruns`` layout: creating, reading, ending, deleting and listing them.
One part of :class:`~litexp.store.file.FileStore`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ... import config
from ...errors import InvalidInputError, StoreCorruptError
from ...records import ACTIVE, DELETED, STATUS_TO_INT, Heartbeat, RunRecord, Selection, ViewType
from .. import validation as v
from . import fs
from .experiments import Experiments, now_ms
from .heartbeats import Heartbeats
from .index import open_index
from .key_files import Warnings, data_path
from .layout import RUN_SUBFOLDERS, Layout, meta_path
from .locks import is_network_fs
from .meta import RunMeta
from .run_reader import meta_fields, read_run_meta, record_from_fields
from .scan import RunScanner, read_run


def _uuid4_hex() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid.uuid4().hex``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def check_active(run_id: str, meta: Mapping[str, Any]) -> None:
    if meta.get("lifecycle_stage", ACTIVE) != ACTIVE:
        raise InvalidInputError(f"Recorder {run_id} is deleted; restore it before logging to it.")


class Runs:
    """The run folders of one store."""

    def __init__(
        self, layout: Layout, meta: RunMeta, experiments: Experiments, heartbeats: Heartbeats, warn: Warnings
    ) -> None:
        self.layout = layout
        self.meta = meta
        self.experiments = experiments
        self.heartbeats = heartbeats
        self.warn_once = warn
        self._network: Optional[bool] = None

    def _experiment_for_new_run(self, experiment_id: str) -> "tuple[str, str, bool]":
        """Folder, artifact location and "artifacts in the run folder" of the active experiment a
        run is created in; its meta.yaml is parsed again only when its stat changed (a rename, a
        delete that moved the folder to .trash, another process's rewrite)."""
        from ..uri import path_to_file_url

        exp_dir = self.layout.experiment_dir(v.validate_experiment_id(experiment_id))
        try:
            st = os.stat(meta_path(exp_dir))
            sig: Optional[Tuple[int, ...]] = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            sig = None
        cache = self.__dict__.setdefault("_new_run_experiments", {})
        cached = cache.get(exp_dir)
        if sig is not None and cached is not None and cached[0] == sig:
            return exp_dir, cached[1], cached[2]
        experiment = self.experiments.get_experiment(experiment_id)
        if experiment.lifecycle_stage != ACTIVE:
            raise InvalidInputError(f"Cannot start a recorder in deleted experiment {experiment_id}.")
        location = experiment.artifact_location.rstrip("/")
        in_run_folder = location == path_to_file_url(exp_dir)
        if sig is not None:
            cache[exp_dir] = (sig, location, in_run_folder)
        return exp_dir, location, in_run_folder

    @staticmethod
    def _write_new_key_file(folder: str, key: str, kind: str, data: bytes) -> None:
        """A tag or param file of a run folder nobody reads yet."""
        if "/" not in key:
            try:
                fs.write_new_file(os.path.join(folder, key), data)
                return
            except FileExistsError:  # a folder of that name (another key's): data_path says why
                pass
        fs.write_new_file(data_path(folder, key, kind), data)

    def create_run(
        self,
        experiment_id: str,
        run_name: Optional[str],
        user_id: str,
        start_time: int,
        tags: Optional[Mapping[str, str]] = None,
        owner: Optional[Heartbeat] = None,
        params: Optional[Mapping[str, Any]] = None,
        artifacts: Optional[Dict[str, bytes]] = None,
    ) -> RunRecord:
        """A new RUNNING run, with its tags, params and heartbeat written before meta.yaml makes it visible.

        ``artifacts`` (file name → content) are written into the new run folder too
        when the experiment keeps artifacts there; each one written is removed from
        the mapping, so what is left is for the caller to log.
        """
        exp_dir, location, in_run_folder = self._experiment_for_new_run(experiment_id)
        experiment_id = os.path.basename(exp_dir)
        tags = v.tags(tags)
        clean_params = v.params(params)
        run_name = v.run_name(run_name, tags)
        run_id = _uuid4_hex()
        run_dir = self.layout.run_dir_in(exp_dir, run_id)
        try:
            os.mkdir(run_dir)
        except FileNotFoundError:  # the experiment folder went to .trash meanwhile
            raise InvalidInputError(f"Cannot start a recorder in deleted experiment {experiment_id}.") from None
        for sub in RUN_SUBFOLDERS:
            os.mkdir(os.path.join(run_dir, sub))
        # Until meta.yaml exists nobody reads this folder: files are written directly.
        for kind, values in (("Tag", tags), ("Param", clean_params)):
            folder = self.layout.data_dir(run_dir, kind)
            for key, value in values.items():
                self._write_new_key_file(folder, key, kind, value.encode("utf-8"))
        if artifacts and in_run_folder:
            folder = self.layout.artifacts_dir(run_dir)
            for name in list(artifacts):
                if v.artifact_subpath(name) == name and "/" not in name:
                    fs.write_new_file(os.path.join(folder, name), artifacts.pop(name))
        if owner is not None:  # a visible RUNNING run always has its owner
            self.heartbeats.write_new(run_dir, owner)
        meta: Dict[str, Any] = {
            "artifact_uri": location + f"/{run_id}/artifacts",
            "end_time": None,
            "entry_point_name": "",
            "experiment_id": experiment_id,
            "lifecycle_stage": ACTIVE,
            "run_id": run_id,
            "run_name": run_name,
            "run_uuid": run_id,
            "source_name": "",
            "source_type": 4,
            "source_version": "",
            "start_time": int(start_time),
            "status": STATUS_TO_INT["RUNNING"],
            "tags": [],
            "user_id": user_id or "unknown",
        }
        fs.create_new_file(meta_path(run_dir), fs.dump_yaml(meta))  # last: the run appears whole
        self.layout.remember_run(run_id, run_dir)
        return RunRecord(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=run_name,
            user_id=str(meta["user_id"]),
            status="RUNNING",
            start_time=int(start_time),
            end_time=None,
            artifact_uri=str(meta["artifact_uri"]),
            params=clean_params,
            tags=dict(tags),
        )

    def get_run(self, run_id: str, experiment_id: Optional[str] = None) -> RunRecord:
        run_dir = self.layout.find_run_dir(run_id, experiment_id)
        record = read_run(run_dir, self.warn_once)
        if record is None:
            raise StoreCorruptError(
                f"Recorder {run_id} cannot be read: its meta.yaml in {run_dir} is damaged. "
                "Restore it from a backup or delete the run folder."
            )
        return record

    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> RunRecord:
        if status not in STATUS_TO_INT:
            raise InvalidInputError(f"Unknown status {status!r}; use one of {', '.join(STATUS_TO_INT)}.")

        def change(meta: Dict[str, Any]) -> None:
            check_active(run_id, meta)
            meta["status"] = STATUS_TO_INT[status]
            meta["end_time"] = None if end_time is None else int(end_time)

        run_dir, meta = self.meta.update(run_id, change)
        try:  # the meta just written, not read back
            return record_from_fields(os.path.basename(run_dir), meta_fields(meta, run_dir))
        except Exception:
            record = read_run_meta(run_dir, self.warn_once)
            assert record is not None
            return record

    def set_lifecycle(self, run_id: str, stage: str) -> None:
        def change(meta: Dict[str, Any]) -> None:
            meta["lifecycle_stage"] = stage
            if stage == DELETED:
                meta["deleted_time"] = now_ms()
            else:
                meta.pop("deleted_time", None)

        self.meta.update(run_id, change)

    def rename(self, run_id: str, name: str) -> None:
        """Set the run name in meta.yaml (the ``mlflow.runName`` tag is written by the caller)."""

        def change(meta: Dict[str, Any]) -> bool:
            if meta.get("run_name") == name:
                return False
            meta["run_name"] = name
            return True

        self.meta.update(run_id, change)

    def list_run_ids(self, experiment_id: str, view_type: int = ViewType.ACTIVE_ONLY) -> List[str]:
        """Ids of the readable runs of one experiment in the view."""
        exp_dir = self.layout.find_experiment_dir(experiment_id)
        if exp_dir is None:
            return []
        stages = ViewType.stages(view_type)
        ids = []
        for run_dir in self.layout.run_dirs_of(exp_dir):
            meta = read_run_meta(run_dir, self.warn_once)
            if meta is not None and meta.experiment_id == experiment_id and meta.lifecycle_stage in stages:
                ids.append(meta.run_id)
        return ids

    def network(self) -> bool:
        """Is the store on a network file system (checked once per store object)?"""
        if self._network is None:
            self._network = is_network_fs(self.layout.root)
        return self._network

    def iter_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
    ) -> Iterator[RunRecord]:
        """Every readable run of the experiments in the view, with its data, one at a time.

        ``selection`` limits which metrics/params/tags are read; ``run_ids``
        limits which runs. Reads go through each experiment's index.
        """
        stages = ViewType.stages(view_type)
        for experiment_id in experiment_ids:
            exp_dir = self.layout.find_experiment_dir(str(experiment_id))
            if exp_dir is None:
                continue
            network = self.network()
            index = open_index(exp_dir, network) if config.index_enabled() else None
            scanner = RunScanner(self.warn_once, index, network)
            try:
                yield from scanner.runs(exp_dir, str(experiment_id), stages, selection, run_ids)
            finally:
                if index is not None:
                    index.close()

    def load_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
    ) -> List[RunRecord]:
        """:meth:`iter_runs` as a list."""
        return list(self.iter_runs(experiment_ids, view_type, selection, run_ids))
