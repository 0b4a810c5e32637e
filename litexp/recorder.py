"""A recorder: one run, as Qlib's ``Recorder`` / ``MLflowRecorder`` presents it."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import config
from .errors import InvalidInputError, LitexpError, LoadObjectError, NotFoundError
from .records import GIT_COMMIT_TAG, RUN_NAME_TAG, USER_TAG, Heartbeat
from .runtime import capture as _capture
from .runtime import lifecycle as _lifecycle
from .runtime import liveness as _liveness
from .runtime.writer import RunWriter
from .store import RunRecord, TrackingStore, open_store
from .store import validation as v

PICKLE_PROTOCOL = 4


_time_texts: Dict[Any, str] = {}


def _fmt_time(ms: Optional[int]) -> Optional[str]:
    """Local time of an epoch-ms stamp, to the second (remembered per second and time zone)."""
    if ms is None:
        return None
    key = (ms // 1000, time.timezone, time.altzone, time.tzname)
    text = _time_texts.get(key)
    if text is None:
        text = datetime.fromtimestamp(ms / 1000.0).strftime("%Y-%m-%d %H:%M:%S")
        if len(_time_texts) >= 64:
            _time_texts.clear()
        _time_texts[key] = text
    return text


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text_file(text: str) -> bytes:
    """The bytes of a text file written in text mode (UTF-8, the platform's line ends)."""
    if os.linesep != "\n":
        text = text.replace("\n", os.linesep)
    return text.encode("utf-8")


_owner: Dict[int, Heartbeat] = {}


def _this_process() -> Heartbeat:
    """The heartbeat owner of this process (it never changes but with the pid, after a fork)."""
    pid = os.getpid()
    owner = _owner.get(pid)
    if owner is None:
        owner = _liveness.this_process()
        _owner.clear()
        _owner[pid] = owner
    return owner


def async_logging_default() -> bool:
    """Background logging is on unless ``LITEXP_SYNC_LOGGING`` is set to 1."""
    return not config.sync_logging()


class Recorder:
    """One run of an experiment.

    A recorder made by :meth:`Experiment.create_recorder` has no id until
    :meth:`start_run`; one returned by ``get_recorder`` / ``list_recorders`` is
    bound to an existing run. Recorders compare and hash by id and can be
    pickled (the background writer is not carried along).
    """

    STATUS_S = "SCHEDULED"
    STATUS_R = "RUNNING"
    STATUS_FI = "FINISHED"
    STATUS_FA = "FAILED"
    STATUS_K = "KILLED"
    STATUSES = (STATUS_S, STATUS_R, STATUS_FI, STATUS_FA, STATUS_K)

    def __init__(
        self,
        experiment_id: str,
        uri: str,
        name: Optional[str] = None,
        run: Optional[RunRecord] = None,
        async_logging: Optional[bool] = None,
        store: Optional[TrackingStore] = None,
    ) -> None:
        self._store = store
        self.id: Optional[str] = None
        self.name = name
        self.experiment_id = experiment_id
        self.start_time: Optional[str] = None
        self.end_time: Optional[str] = None
        self.status = Recorder.STATUS_S
        self._uri = uri
        self._artifact_uri: Optional[str] = None
        self.async_logging = async_logging_default() if async_logging is None else bool(async_logging)
        self._writer: Optional[RunWriter] = None
        self._params_logged: Dict[str, str] = {}
        self.killed_by_signal = False
        if run is not None:
            self._load(run)

    def _load(self, run: RunRecord) -> None:
        self.id = run.run_id
        self.name = run.tags.get(RUN_NAME_TAG, run.run_name)
        self.experiment_id = run.experiment_id
        self.start_time = _fmt_time(run.start_time)
        self.end_time = _fmt_time(run.end_time)
        self.status = run.status
        self._artifact_uri = run.artifact_uri

    # identity ----------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{type(self).__name__}(info={self.info}, uri={self.uri!r})"

    def __str__(self) -> str:
        return str(self.info)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Recorder):
            return self.id is not None and self.id == other.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_writer"] = None
        state["_store"] = None
        return state

    @property
    def info(self) -> Dict[str, Any]:
        """Qlib's summary: class, id, name, experiment_id, start/end time (local strings), status."""
        return {
            "class": "Recorder",
            "id": self.id,
            "name": self.name,
            "experiment_id": self.experiment_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "status": self.status,
        }

    @property
    def uri(self) -> str:
        """The tracking URI of the store holding this recorder."""
        return self._uri

    @property
    def artifact_uri(self) -> Optional[str]:
        return self._artifact_uri

    @property
    def store(self) -> TrackingStore:
        """The store holding this run (the experiment's; reopened from the URI after unpickling)."""
        if self._store is None:
            self._store = open_store(self._uri, create=True)
        return self._store

    def _require_id(self) -> str:
        if self.id is None:
            raise LitexpError(
                f"Recorder {self.name!r} has not been started; call start_run() (or use R.start()) first."
            )
        return self.id

    def set_recorder_name(self, rname: str) -> None:
        """Name the recorder: before ``start_run`` the run is created with this name; after it the
        run is renamed (its ``mlflow.runName`` tag and run name). Qlib only keeps the name on the object."""
        self.recorder_name = rname
        if self.id is None:
            self.name = rname
        else:
            self.set_tags(**{RUN_NAME_TAG: rname})

    def get_artifact_uri(self) -> str:
        """The artifact URI; ValueError before the recorder is started."""
        if self._artifact_uri is None:
            raise NotFoundError("The recorder has no artifact URI yet: start it before asking for one.")
        return self._artifact_uri

    def get_local_dir(self) -> str:
        """The local folder of the run (parent of its artifacts folder)."""
        return self.store.local_run_dir(self._require_id())

    # lifecycle ---------------------------------------------------------------
    def start_run(self) -> RunRecord:
        """Create the run (or resume it when the recorder already has an id) and mark it RUNNING.

        A new run records the command line and ``_QLIB_*`` environment variables
        as params, MLflow's system tags, and inside a git work tree the commit
        and the uncommitted changes as artifacts.
        """
        store = self.store
        heartbeat_interval = config.heartbeat_interval()  # a bad setting is refused before anything is written
        owner = _this_process()
        if self.id is None:
            run = self._create_run(store, owner)
        else:
            store.write_heartbeat(self.id, owner)
            run = store.update_run(self.id, "RUNNING", None)
            self._load(run)
        self._params_logged = {}
        self.killed_by_signal = False
        self._writer = RunWriter(store, run.run_id, heartbeat_interval)
        _lifecycle.register(self)
        return run

    def _create_run(self, store: TrackingStore, owner: Heartbeat) -> RunRecord:
        """A new run with the captured params, the system tags and, inside a git work tree, the
        commit tag and the git files (a file store writes them before the run is visible)."""
        tags = _capture.system_tags()
        git = _capture.git_state() or {}
        commit = git.pop("commit", None)
        if commit:
            tags[GIT_COMMIT_TAG] = commit
        files = {name: _text_file(text) for name, text in git.items()}
        run = store.create_run(
            self.experiment_id,
            self.name,
            tags[USER_TAG],
            _now_ms(),
            tags,
            owner,
            _capture.run_params(),
            artifacts=files or None,
        )
        self._load(run)
        return run

    def end_run(self, status: str = STATUS_S) -> None:
        """Flush buffered logs and set the final status (default Qlib's SCHEDULED) and end time."""
        status = str(status).upper()
        if status not in Recorder.STATUSES:
            raise InvalidInputError(f"Unknown recorder status {status!r}; use one of {', '.join(Recorder.STATUSES)}.")
        run_id = self._require_id()
        if self.killed_by_signal and self._writer is None:
            return  # already ended KILLED by SIGTERM: keep the true status
        writer, self._writer = self._writer, None
        _lifecycle.unregister(self)
        try:
            if writer is not None:
                writer.close()
        finally:
            run = self.store.update_run(run_id, status, _now_ms())
            self.store.remove_heartbeat(run_id)
            self._load(run)

    def flush(self) -> None:
        """Wait until every buffered log is on disk; raise an error a background write met."""
        if self._writer is not None:
            self._writer.flush()

    # logging -------------------------------------------------------------------
    def _send(
        self,
        metrics: Sequence[Tuple[str, float, int, int]] = (),
        params: Optional[Dict[str, str]] = None,
        tags: Optional[Dict[str, str]] = None,
    ) -> None:
        run_id = self._require_id()
        params = params if params is not None else {}
        tags = tags if tags is not None else {}
        if self._writer is not None and self.async_logging:
            self._writer.submit(metrics, params, tags)
        else:
            self.store.log_batch(run_id, metrics, params, tags)

    def log_params(self, **kwargs: Any) -> None:
        """Log params (``str(value)``). A param cannot change; the same value again is fine."""
        params = {}
        for key, value in kwargs.items():
            key = v.validate_key(key, "Param")
            text = v.param_value(key, value)
            known = self._params_logged.get(key)
            if known is not None and known != text:
                raise InvalidInputError(
                    f"Param {key!r} of recorder {self.id} is already {known!r}; params cannot change "
                    f"(tried {text!r}). Log it under another key or start a new recorder."
                )
            params[key] = text
        self._send(params=params)
        self._params_logged.update(params)

    def log_metrics(self, step: Optional[int] = None, **kwargs: Any) -> None:
        """Log one point per metric at ``step`` (0 when None), stamped with the current time."""
        step_int = 0 if step is None else (step if type(step) is int else v.integer(step, "Metric step"))
        timestamp = _now_ms()
        points = []
        for key, value in kwargs.items():
            v.validate_key(key, "Metric")
            if type(value) is not float:
                value = v.metric_value(key, value)
            points.append((key, value, timestamp, step_int))
        self._send(metrics=points)

    def set_tags(self, **kwargs: Any) -> None:
        """Set tags (``str(value)``); a tag can be overwritten."""
        tags = v.tags(kwargs)
        self._send(tags=tags)
        if RUN_NAME_TAG in tags:
            self.name = tags[RUN_NAME_TAG]

    def delete_tags(self, *keys: str) -> None:
        """Remove tags (buffered logs are written first)."""
        run_id = self._require_id()
        self.flush()
        for key in keys:
            self.store.delete_tag(run_id, key)

    # artifacts -----------------------------------------------------------------
    def log_artifact(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        """Copy a file or a folder (kept under its own name, as MLflow does) into the run's artifacts."""
        local_path = os.fspath(local_path)
        if os.path.isdir(local_path):
            name = os.path.basename(os.path.normpath(os.path.abspath(local_path)))
            artifact_path = "/".join(p for p in (v.artifact_subpath(artifact_path), name) if p)
        self.store.log_artifact(self._require_id(), local_path, artifact_path)

    def save_objects(
        self, local_path: Optional[str] = None, artifact_path: Optional[str] = None, **kwargs: Any
    ) -> None:
        """Save files from ``local_path``, or pickle each keyword argument as an artifact named after its key.

        Every object is pickled before anything is written, so an unpicklable
        object leaves nothing behind.
        """
        run_id = self._require_id()
        if local_path is not None and kwargs:
            raise InvalidInputError("Pass either local_path (files to save) or objects as keywords, not both.")
        if local_path is not None:
            self.store.log_artifact(run_id, os.fspath(local_path), artifact_path)
            return
        blobs = {}
        for name, obj in kwargs.items():
            sub = v.artifact_subpath(name)
            if not sub:
                raise InvalidInputError(f"Object name {name!r} is not a valid artifact file name.")
            try:
                blobs[sub] = pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
            except Exception as exc:
                raise InvalidInputError(f"Object {name!r} cannot be pickled: {exc}. Nothing was saved.") from exc
        base = v.artifact_subpath(artifact_path)
        tmp = tempfile.mkdtemp(prefix="litexp-")
        try:
            for sub, blob in blobs.items():
                folder, filename = os.path.split(sub)
                src = os.path.join(tmp, filename)
                with open(src, "wb") as fh:
                    fh.write(blob)
                dest = "/".join(p for p in (base, folder) if p)
                self.store.log_artifact(run_id, src, dest or None)
                os.unlink(src)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load_object(self, name: str, unpickler: Any = pickle.Unpickler) -> Any:
        """Unpickle an artifact. Only load stores you trust: unpickling runs code.

        Any failure (missing artifact, unreadable or corrupt file) raises LoadObjectError.
        """
        try:
            path = self.store.local_artifact(self._require_id(), name)
            with open(path, "rb") as fh:
                return unpickler(fh).load()
        except Exception as exc:
            raise LoadObjectError(f"Cannot load object {name!r} of recorder {self.id}: {exc}") from exc

    def list_artifacts(self, artifact_path: Optional[str] = None) -> List[str]:
        """Paths of the direct children of an artifact folder (the root by default)."""
        return [e.path for e in self.store.list_artifacts(self._require_id(), artifact_path)]

    def download_artifact(self, path: str, dst_path: Optional[str] = None) -> str:
        """Copy an artifact to ``dst_path`` (a new temporary folder by default); return the local path."""
        return self.store.download_artifact(self._require_id(), path, dst_path)

    # reading -------------------------------------------------------------------
    def _run(self) -> RunRecord:
        self.flush()
        return self.store.get_run(self._require_id(), self.experiment_id)

    def list_metrics(self) -> Dict[str, float]:
        """Latest value of every metric."""
        return dict(self._run().metrics)

    def list_params(self) -> Dict[str, str]:
        return dict(self._run().params)

    def list_tags(self) -> Dict[str, str]:
        return dict(self._run().tags)

    def get_metric_history(self, key: str) -> List[Any]:
        """Every point of a metric as ``MetricPoint(key, value, timestamp, step)``, in logged order."""
        self.flush()
        return self.store.get_metric_history(self._require_id(), key)

    def refresh(self) -> "Recorder":
        """Re-read status and times from the store."""
        self._load(self._run())
        return self
