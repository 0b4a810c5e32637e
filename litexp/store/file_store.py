"""MLflow's ``mlruns`` layout: the only module that knows where files live.

Layout (see ``mlruns-format.md``)::

    <root>/.trash/<experiment_id>/...       deleted experiments
    <root>/<experiment_id>/meta.yaml        experiment
    <root>/<experiment_id>/tags/<key>
    <root>/<experiment_id>/<run_id>/meta.yaml
    <root>/<experiment_id>/<run_id>/{metrics,params,tags,artifacts}/
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

from ..errors import InvalidInputError, LitexpError, NotFoundError
from . import _fs
from . import _metric_lines as lines
from . import validation as v
from ._run_reader import read_run, read_run_meta
from ._sources import DiskSource, IndexedSource
from ._experiment_files import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    META,
    RESERVED_EXPERIMENT_FOLDERS,
    TRASH,
    ExperimentFiles,
    now_ms,
)
from .artifacts import ArtifactFolder
from .interface import TrackingStore
from .locks import StoreLock
from .records import (
    ACTIVE,
    DELETED,
    STATUS_TO_INT,
    ArtifactEntry,
    Heartbeat,
    MetricPoint,
    RunRecord,
    Selection,
    ViewType,
)

logger = logging.getLogger("litexp")

HEARTBEAT = ".litexp-heartbeat"  # a file in the run folder; MLflow ignores unknown files there
RUN_SUBFOLDERS = ("metrics", "params", "artifacts", "tags")
_DISK = DiskSource()


def _uuid4_hex() -> str:
    """A random (version 4) UUID as 32 hex digits, like ``uuid.uuid4().hex``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


class FileStore(ExperimentFiles, TrackingStore):
    """A store on MLflow's ``mlruns`` file layout rooted at ``root``.

    A new root gets ``.trash/`` and the experiment ``0`` ("Default"), as MLflow
    does. Nothing is written when an existing store is opened.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.trash = os.path.join(self.root, TRASH)
        self.lock = StoreLock(self.root)
        self._run_dirs: Dict[str, str] = {}
        self._sources: Dict[str, DiskSource] = {}
        self._metas: Dict[str, Tuple[Tuple[int, int, int], Dict[str, Any]]] = {}
        self._warned: set = set()
        self._warn_lock = threading.Lock()
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise InvalidInputError(f"The store root {self.root} exists and is not a folder.")
        if not os.path.isdir(self.root):
            os.makedirs(self.root, exist_ok=True)
            with self.lock:
                if not os.path.exists(self._exp_dir_active(DEFAULT_EXPERIMENT_ID)):
                    self._write_new_experiment(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None)
        if not os.path.isdir(self.trash):
            os.makedirs(self.trash, exist_ok=True)

    # ------------------------------------------------------------------- runs
    def _find_run_dir(self, run_id: str) -> str:
        run_id = v.validate_run_id(run_id)
        cached = self._run_dirs.get(run_id)
        if cached and os.path.isfile(os.path.join(cached, META)):
            return cached
        for parent in (self.root, self.trash):
            for exp_name in _fs.list_subfolders(parent):
                if parent == self.root and exp_name == TRASH:
                    continue
                candidate = os.path.join(parent, exp_name, run_id)
                if os.path.isfile(os.path.join(candidate, META)) and os.path.isdir(
                    os.path.join(candidate, "metrics")
                ):
                    self._run_dirs[run_id] = candidate
                    return candidate
        raise NotFoundError(f"No recorder (run) with id {run_id!r} in the store {self.root}.")

    def run_folder(self, run_id: str) -> str:
        return self._find_run_dir(run_id)

    def create_run(
        self,
        experiment_id: str,
        run_name: Optional[str],
        user_id: str,
        start_time: int,
        tags: Optional[Mapping[str, str]] = None,
        owner: Optional[Heartbeat] = None,
        params: Optional[Mapping[str, Any]] = None,
    ) -> RunRecord:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != ACTIVE:
            raise InvalidInputError(f"Cannot start a recorder in deleted experiment {experiment_id}.")
        tags = self._validated_tags(tags)
        clean_params = {v.validate_key(k, "Param"): v.param_value(k, val) for k, val in (params or {}).items()}
        if run_name is not None:
            run_name = v.tag_value("mlflow.runName", run_name)
        run_name = run_name or tags.get("mlflow.runName") or f"run-{os.urandom(4).hex()}"
        tags["mlflow.runName"] = run_name
        run_id = _uuid4_hex()
        exp_dir = self._exp_dir_active(experiment.experiment_id)
        run_dir = os.path.join(exp_dir, run_id)
        os.makedirs(run_dir)
        for sub in RUN_SUBFOLDERS:
            os.makedirs(os.path.join(run_dir, sub))
        # Until meta.yaml exists nobody reads this folder: files are written directly.
        for folder, values in (("tags", tags), ("params", clean_params)):
            for key, value in values.items():
                _fs.write_new_file(self._data_path(os.path.join(run_dir, folder), key, folder[:-1].capitalize()), value.encode("utf-8"))
        if owner is not None:  # a visible RUNNING run always has its owner
            _fs.write_new_file(os.path.join(run_dir, HEARTBEAT), self._heartbeat_text(owner))
        meta = {
            "artifact_uri": experiment.artifact_location.rstrip("/") + f"/{run_id}/artifacts",
            "end_time": None,
            "entry_point_name": "",
            "experiment_id": experiment.experiment_id,
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
        _fs.write_yaml(os.path.join(run_dir, META), meta)
        self._run_dirs[run_id] = run_dir
        return RunRecord(
            run_id=run_id,
            experiment_id=experiment.experiment_id,
            run_name=run_name,
            user_id=meta["user_id"],
            status="RUNNING",
            start_time=meta["start_time"],
            end_time=None,
            artifact_uri=meta["artifact_uri"],
            params=clean_params,
            tags=dict(tags),
        )

    # ------------------------------------------------------------- heartbeat
    @staticmethod
    def _heartbeat_text(owner: Heartbeat) -> bytes:
        return f"{owner.host} {owner.pid} {owner.pid_start or '-'} {owner.boot_id or '-'}\n".encode("utf-8")

    def _write_heartbeat_file(self, run_dir: str, owner: Heartbeat) -> None:
        _fs.replace_file(os.path.join(run_dir, HEARTBEAT), self._heartbeat_text(owner))

    def write_heartbeat(self, run_id: str, owner: Heartbeat) -> None:
        self._write_heartbeat_file(self._find_run_dir(run_id), owner)

    def touch_heartbeat(self, run_id: str) -> None:
        path = os.path.join(self._find_run_dir(run_id), HEARTBEAT)
        try:
            os.utime(path)
        except FileNotFoundError:
            pass

    def read_heartbeat(self, run_id: str) -> Optional[Heartbeat]:
        path = os.path.join(self._find_run_dir(run_id), HEARTBEAT)
        try:
            parts = _fs.read_text(path).split()
            mtime = os.stat(path).st_mtime
            return Heartbeat(
                host=parts[0],
                pid=int(parts[1]),
                pid_start=int(parts[2]) if len(parts) > 2 and parts[2] != "-" else None,
                boot_id=parts[3] if len(parts) > 3 and parts[3] != "-" else None,
                last_beat_ms=int(mtime * 1000),
            )
        except (OSError, ValueError, IndexError, UnicodeDecodeError):
            return None

    def remove_heartbeat(self, run_id: str) -> None:
        try:
            os.unlink(os.path.join(self._find_run_dir(run_id), HEARTBEAT))
        except FileNotFoundError:
            pass

    def _load_meta(self, run_id: str, fresh: bool = True) -> Tuple[str, Dict[str, Any]]:
        """The run folder and its parsed meta.yaml.

        ``fresh=False`` (checks before logging) reuses the last parse while the
        file keeps its inode, size and mtime; every rewrite is a new inode.
        """
        run_dir = self._find_run_dir(run_id)
        path = os.path.join(run_dir, META)
        try:
            if not fresh:
                st = os.stat(path)
                cached = self._metas.get(path)
                if cached is not None and cached[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
                    return run_dir, dict(cached[1])
            data, st = _fs.read_with_stat(path)
            meta = _fs.parse_yaml(data)
            if not isinstance(meta, dict):
                raise ValueError("not a mapping")
        except Exception as exc:
            raise LitexpError(
                f"The meta.yaml of recorder {run_id} ({run_dir}) cannot be read ({exc}). "
                "Restore it from a backup or delete the run folder."
            ) from exc
        if len(self._metas) > 10_000:
            self._metas.clear()
        self._metas[path] = ((st.st_ino, st.st_size, st.st_mtime_ns), dict(meta))
        return run_dir, meta

    def get_run(self, run_id: str) -> RunRecord:
        run_dir = self._find_run_dir(run_id)
        record = read_run(run_dir, self.warn_once)
        if record is None:
            raise LitexpError(
                f"Recorder {run_id} cannot be read: its meta.yaml in {run_dir} is damaged. "
                "Restore it from a backup or delete the run folder."
            )
        return record

    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> RunRecord:
        if status not in STATUS_TO_INT:
            raise InvalidInputError(f"Unknown status {status!r}; use one of {', '.join(STATUS_TO_INT)}.")
        run_dir, meta = self._load_meta(run_id)
        self._check_active(run_id, meta)
        meta["status"] = STATUS_TO_INT[status]
        meta["end_time"] = None if end_time is None else int(end_time)
        _fs.write_yaml(os.path.join(run_dir, META), meta)
        record = read_run_meta(run_dir, self.warn_once)
        assert record is not None
        return record

    def _set_lifecycle(self, run_id: str, stage: str) -> None:
        run_dir, meta = self._load_meta(run_id)
        meta["lifecycle_stage"] = stage
        if stage == DELETED:
            meta["deleted_time"] = now_ms()
        else:
            meta.pop("deleted_time", None)
        _fs.write_yaml(os.path.join(run_dir, META), meta)

    def delete_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_lifecycle(run_id, ACTIVE)

    def _check_active(self, run_id: str, meta: Mapping[str, Any]) -> None:
        if meta.get("lifecycle_stage", ACTIVE) != ACTIVE:
            raise InvalidInputError(f"Recorder {run_id} is deleted; restore it before logging to it.")

    def list_run_ids(self, experiment_id: str, view_type: int = ViewType.ACTIVE_ONLY) -> List[str]:
        """Ids of the readable runs of one experiment in the view."""
        exp_dir = self._exp_dir(experiment_id)
        if exp_dir is None:
            return []
        stages = ViewType.stages(view_type)
        ids = []
        for run_dir in self._run_dirs_of(exp_dir):
            meta = read_run_meta(run_dir, self.warn_once)
            if meta is not None and meta.experiment_id == experiment_id and meta.lifecycle_stage in stages:
                ids.append(meta.run_id)
        return ids

    def _source(self, exp_dir: str) -> DiskSource:
        """The index of an experiment folder (``LITEXP_INDEX=0``: read every file every time)."""
        if os.environ.get("LITEXP_INDEX", "1").strip().lower() in ("0", "false", "no", "off"):
            return DiskSource()
        source = self._sources.get(exp_dir)
        if source is None:
            source = self._sources[exp_dir] = IndexedSource(exp_dir)
        source.begin()
        return source

    def load_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
    ) -> List[RunRecord]:
        """Every readable run of the experiments in the view, with its data.

        ``selection`` limits which metrics/params/tags are read; ``run_ids``
        limits which runs. Reads go through the experiment's index.
        """
        stages = ViewType.stages(view_type)
        wanted = set(run_ids) if run_ids is not None else None
        runs: List[RunRecord] = []
        for experiment_id in experiment_ids:
            exp_dir = self._exp_dir(str(experiment_id))
            if exp_dir is None:
                continue
            source = self._source(exp_dir)
            # the experiment folder itself is listed afresh: saving the index changes its mtime
            for name, is_dir in _DISK.listing(exp_dir):
                if not is_dir or name in RESERVED_EXPERIMENT_FOLDERS or (wanted is not None and name not in wanted):
                    continue
                run_dir = os.path.join(exp_dir, name)
                meta = read_run_meta(run_dir, self.warn_once, source)
                if meta is None or meta.experiment_id != str(experiment_id) or meta.lifecycle_stage not in stages:
                    continue
                record = read_run(run_dir, self.warn_once, meta, source, selection)
                if record is not None:
                    runs.append(record)
            complete = selection is None and wanted is None and view_type == ViewType.ALL
            source.save(complete)
        return runs

    # --------------------------------------------------------------- run data
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Tuple[str, Any, int, int]] = (),
        params: Mapping[str, Any] = {},
        tags: Mapping[str, Any] = {},
    ) -> None:
        clean_params = {v.validate_key(k, "Param"): v.param_value(k, val) for k, val in params.items()}
        clean_tags = self._validated_tags(tags)
        by_key: Dict[str, List[Tuple[int, float, int]]] = {}
        for key, value, timestamp, step in metrics:
            key = v.validate_key(key, "Metric")
            point = (v.integer(timestamp, "Metric timestamp"), v.metric_value(key, value), v.integer(step, "Metric step"))
            by_key.setdefault(key, []).append(point)
        run_dir, meta = self._load_meta(run_id, fresh=False)
        self._check_active(run_id, meta)
        for key, text in clean_params.items():
            path = self._data_path(os.path.join(run_dir, "params"), key, "Param")
            data = text.encode("utf-8")
            if not _fs.create_file(path, data, run_dir):
                current = _fs.read_bytes(path)
                if current != data:
                    raise InvalidInputError(
                        f"Param {key!r} of recorder {run_id} is already {current.decode('utf-8', 'replace')!r}; "
                        f"params cannot change (tried {text!r}). Log it under another key or start a new recorder."
                    )
        for key, points in by_key.items():
            path = self._data_path(os.path.join(run_dir, "metrics"), key, "Metric")
            points = lines.without_repeats(points, _fs.last_line(path))
            if points:
                _fs.append_to_file(path, lines.format_lines(points), run_dir)
        for key, text in clean_tags.items():
            self._write_tag_file(run_dir, os.path.join(run_dir, "tags"), key, text)
        if "mlflow.runName" in clean_tags and clean_tags["mlflow.runName"] != meta.get("run_name"):
            run_dir, meta = self._load_meta(run_id)  # rewrite from a fresh read
            meta["run_name"] = clean_tags["mlflow.runName"]
            _fs.write_yaml(os.path.join(run_dir, META), meta)

    def delete_tag(self, run_id: str, key: str) -> None:
        key = v.validate_key(key, "Tag")
        run_dir, meta = self._load_meta(run_id)
        self._check_active(run_id, meta)
        path = os.path.join(run_dir, "tags", *key.split("/"))
        if not os.path.isfile(path):
            raise NotFoundError(f"Recorder {run_id} has no tag {key!r}.")
        os.unlink(path)

    def get_metric_history(self, run_id: str, key: str) -> List[MetricPoint]:
        key = v.validate_key(key, "Metric")
        run_dir = self._find_run_dir(run_id)
        path = os.path.join(run_dir, "metrics", *key.split("/"))
        if not os.path.isfile(path):
            raise NotFoundError(f"Recorder {run_id} has no metric {key!r}.")
        points, skipped = lines.parse_history(_fs.read_bytes(path))
        if skipped:
            self.warn_once(path, "litexp: skipped %d unreadable line(s) in metric file %s", skipped, path)
        return [MetricPoint(key, val, ts, step) for ts, val, step in points]

    # -------------------------------------------------------------- artifacts
    def _artifacts(self, run_id: str) -> ArtifactFolder:
        """The run's artifact folder: where its ``artifact_uri`` points, as MLflow reads it.

        A default-layout URI that no longer exists (a moved store, a deleted
        experiment in ``.trash``) means the ``artifacts`` folder of the run.
        """
        run_dir, meta = self._load_meta(run_id)
        default = os.path.join(run_dir, "artifacts")
        uri = meta.get("artifact_uri")
        if not uri:
            return ArtifactFolder(default, tmp_folder=run_dir)
        uri = str(uri)
        if uri.startswith("file:"):
            parsed = urlparse(uri)
            if parsed.netloc not in ("", "localhost"):
                raise InvalidInputError(f"Artifacts of recorder {run_id} are on host {parsed.netloc!r} ({uri}).")
            path = unquote(parsed.path) if uri.startswith("file://") else unquote(uri[len("file:"):])
        elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", uri):
            raise InvalidInputError(
                f"Artifacts of recorder {run_id} are at {uri}; litexp reads and writes local artifact folders only."
            )
        else:
            path = uri
        path = os.path.abspath(path)
        if path == default or os.path.realpath(path) == os.path.realpath(default):
            return ArtifactFolder(default, tmp_folder=run_dir)
        moved_default = path.endswith(os.sep + os.path.join(str(meta.get("experiment_id")), run_id, "artifacts"))
        if os.path.isdir(path) or not moved_default:
            return ArtifactFolder(path, tmp_folder=os.path.dirname(path))
        return ArtifactFolder(default, tmp_folder=run_dir)

    def artifact_uri(self, run_id: str) -> str:
        _, meta = self._load_meta(run_id)
        uri = meta.get("artifact_uri")
        return str(uri) if uri else self._uri(os.path.join(self._find_run_dir(run_id), "artifacts"))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: Optional[str] = None) -> None:
        _, meta = self._load_meta(run_id)
        self._check_active(run_id, meta)
        self._artifacts(run_id).add(local_path, artifact_path)

    def list_artifacts(self, run_id: str, path: Optional[str] = None) -> List[ArtifactEntry]:
        return self._artifacts(run_id).list(path)

    def download_artifact(self, run_id: str, path: str, dst_path: Optional[str] = None) -> str:
        return self._artifacts(run_id).download(path, dst_path)

    def artifact_local_path(self, run_id: str, path: str) -> str:
        """The path of an artifact inside the store (it must exist)."""
        return self._artifacts(run_id).existing(path)

