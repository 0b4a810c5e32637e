"""The tracking store of an MLflow tracking server, over its REST API (``http://`` and ``https://``).

Experiments and runs are the server's; reads ask it each time (no cache but
the artifact URI of a run). Logged data goes through :mod:`.delivery`, so an
outage spools to disk instead of failing the run. Heartbeats are the run tag
``litexp.heartbeat`` (owner and last beat), refreshed by the writer thread.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ...errors import ExpAlreadyExistError, InvalidInputError, LitexpError, NotFoundError, ServerUnreachableError
from ...records import (
    ACTIVE,
    DELETED,
    RUN_NAME_TAG,
    ArtifactEntry,
    ExperimentRecord,
    Heartbeat,
    MetricPoint,
    RunRecord,
    Selection,
    ViewType,
)
from .. import validation as v
from ..interface import TrackingStore
from .artifacts import ArtifactLocation
from .delivery import Delivery
from .http import HttpClient, field
from .messages import (
    HEARTBEAT_TAG,
    experiment_record,
    heartbeat_text,
    key_values,
    metric_json,
    metric_point,
    parse_heartbeat,
    run_record,
)
from .spool import Spool

PAGE = 1000  # runs or experiments per search page
HISTORY_PAGE = 25000
IDS_PER_SEARCH = 100
BEAT_TIMEOUT = 10.0
_VIEW_NAMES = {ViewType.ACTIVE_ONLY: "ACTIVE_ONLY", ViewType.DELETED_ONLY: "DELETED_ONLY", ViewType.ALL: "ALL"}


def _now_ms() -> int:
    return int(time.time() * 1000)


class RestStore(TrackingStore):
    """Experiments, runs and artifacts of one MLflow tracking server."""

    partial_loads = False

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.client = HttpClient(self.tracking_uri)
        self.delivery = Delivery(self.client, Spool(self.tracking_uri))
        self._artifact_uris: Dict[str, str] = {}
        self._owners: Dict[str, Heartbeat] = {}
        self._beats: Dict[str, str] = {}  # heartbeat tags of runs read, kept out of their records
        self._infos: Dict[str, RunRecord] = {}  # meta data (no metrics, params, tags) of runs seen
        self._cache: Optional[str] = None

    def __repr__(self) -> str:
        return f"RestStore({self.tracking_uri!r})"

    # experiments ----------------------------------------------------------------------
    def create_experiment(self, name: str, tags: Optional[Mapping[str, str]] = None) -> ExperimentRecord:
        name = v.validate_experiment_name(name)
        clean = v.tags(tags)
        try:
            answer = self.client.call("experiments/create", {"name": name, "tags": key_values(clean)})
        except ExpAlreadyExistError:
            existing = self.find_experiment(name)
            raise ExpAlreadyExistError(_taken_message(name, existing)) from None
        return self.get_experiment(str(field(answer, "experiment_id", self.client, "experiments/create")))

    def get_or_create_experiment(self, name: str) -> Tuple[ExperimentRecord, bool]:
        name = v.validate_experiment_name(name)
        existing = self.find_experiment(name)
        created = False
        if existing is None:
            try:
                answer = self.client.call("experiments/create", {"name": name})
                new_id = str(field(answer, "experiment_id", self.client, "experiments/create"))
                existing, created = self.get_experiment(new_id), True
            except ExpAlreadyExistError:  # another process created it first: use theirs
                existing = self.find_experiment(name)
                if existing is None:
                    raise
        if existing.lifecycle_stage != ACTIVE:
            raise ExpAlreadyExistError(_taken_message(name, existing))
        return existing, created

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        experiment_id = v.validate_experiment_id(experiment_id)
        answer = self.client.call("experiments/get", {"experiment_id": experiment_id}, "GET")
        return experiment_record(field(answer, "experiment", self.client, "experiments/get"))

    def find_experiment(self, name: str, view_type: int = ViewType.ALL) -> Optional[ExperimentRecord]:
        try:
            answer = self.client.call("experiments/get-by-name", {"experiment_name": name}, "GET")
        except NotFoundError:
            return None
        record = experiment_record(field(answer, "experiment", self.client, "experiments/get-by-name"))
        return record if record.lifecycle_stage in ViewType.stages(view_type) else None

    def list_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> List[ExperimentRecord]:
        body = {"view_type": _VIEW_NAMES.get(view_type, "ALL"), "max_results": PAGE}
        return [experiment_record(e) for e in self._pages("experiments/search", body, "experiments")]

    def delete_experiment(self, experiment_id: str) -> None:
        self.client.call("experiments/delete", {"experiment_id": v.validate_experiment_id(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self.client.call("experiments/restore", {"experiment_id": v.validate_experiment_id(experiment_id)})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        key = v.validate_key(key, "Tag")
        self.client.call(
            "experiments/set-experiment-tag",
            {"experiment_id": v.validate_experiment_id(experiment_id), "key": key, "value": v.tag_value(key, value)},
        )

    def _run(self, data: Mapping[str, Any], remember: bool = False) -> RunRecord:
        """A run record without the heartbeat tag (litexp's own; the file store keeps it in a file).

        ``remember``: keep its artifact URI and meta data (for a run this process works on; a
        search remembers nothing, so memory does not grow with the runs searched).
        """
        run = run_record(data)
        beat = run.tags.pop(HEARTBEAT_TAG, None)
        if beat is None:
            self._beats.pop(run.run_id, None)
        else:
            self._beats[run.run_id] = beat
        if remember:
            self._artifact_uris[run.run_id] = run.artifact_uri
            self._infos[run.run_id] = dataclasses.replace(run, metrics={}, params={}, tags={}, datasets=[])
        return run

    def _pages(self, endpoint: str, body: Dict[str, Any], field: str) -> Iterator[Dict[str, Any]]:
        token = None
        while True:
            page = dict(body, page_token=token) if token else body
            answer = self.client.call(endpoint, page)
            yield from answer.get(field) or ()
            token = answer.get("next_page_token")
            if not token:
                return

    # runs -------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: Optional[str],
        user_id: str,
        start_time: int,
        tags: Optional[Mapping[str, str]] = None,
        owner: Optional[Heartbeat] = None,
        params: Optional[Mapping[str, str]] = None,
        artifacts: Optional[Mapping[str, bytes]] = None,
    ) -> RunRecord:
        experiment_id = v.validate_experiment_id(experiment_id)
        files = self._artifact_files(artifacts)
        clean = v.tags(tags)
        clean_params = v.params(params)
        run_name = v.run_name(run_name, clean)
        if owner is not None:
            clean[HEARTBEAT_TAG] = heartbeat_text(owner, _now_ms())
        try:
            answer = self.client.call(
                "runs/create",
                {
                    "experiment_id": experiment_id,
                    "user_id": user_id,
                    "run_name": run_name,
                    "start_time": int(start_time),
                    "tags": key_values(clean),
                },
            )
        except InvalidInputError as exc:
            if "must be in the 'active' state" in str(exc):
                raise InvalidInputError(f"Cannot start a recorder in deleted experiment {experiment_id}.") from None
            raise
        run = self._run(field(answer, "run", self.client, "runs/create"), remember=True)
        if owner is not None:
            self._owners[run.run_id] = owner
        if clean_params:
            self.client.call("runs/log-batch", {"run_id": run.run_id, "params": key_values(clean_params)})
            run.params.update(clean_params)
        if files:  # uploaded once the run exists
            self._log_file_contents(run.run_id, files)
        return run

    def get_run(self, run_id: str, experiment_id: Optional[str] = None) -> RunRecord:
        run_id = v.validate_run_id(run_id)
        answer = self.client.call("runs/get", {"run_id": run_id}, "GET")
        return self._run(field(answer, "run", self.client, "runs/get"), remember=True)

    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> RunRecord:
        run_id = v.validate_run_id(run_id)
        if status not in ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"):
            raise InvalidInputError(f"Unknown status {status!r}.")
        had_owner = self._owners.get(run_id) is not None or run_id in self._beats
        if status != "RUNNING":
            self._owners.pop(run_id, None)
            self._beats.pop(run_id, None)
        self.delivery.update_run(run_id, status, end_time, drop_heartbeat=had_owner and status != "RUNNING")
        known = self._infos.get(run_id)
        if known is None:
            run = self.get_run(run_id)
            run.metrics, run.params, run.tags = {}, {}, {}
            return run
        return dataclasses.replace(known, status=status, end_time=None if end_time is None else int(end_time))

    def delete_run(self, run_id: str) -> None:
        self.client.call("runs/delete", {"run_id": v.validate_run_id(run_id)})

    def restore_run(self, run_id: str) -> None:
        self.client.call("runs/restore", {"run_id": v.validate_run_id(run_id)})

    def _search(self, experiment_ids: Sequence[str], view_type: int, filter_string: str = "") -> Iterator[RunRecord]:
        if not experiment_ids:
            return
        body: Dict[str, Any] = {
            "experiment_ids": list(experiment_ids),
            "run_view_type": _VIEW_NAMES.get(view_type, "ALL"),
            "max_results": PAGE,
        }
        if filter_string:
            body["filter"] = filter_string
        for item in self._pages("runs/search", body, "runs"):
            yield self._run(item)

    def list_run_ids(self, experiment_id: str, view_type: int = ViewType.ACTIVE_ONLY) -> List[str]:
        return [r.run_id for r in self._search([v.validate_experiment_id(experiment_id)], view_type)]

    def load_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
        filter_string: Optional[str] = None,
    ) -> List[RunRecord]:
        ids = [v.validate_experiment_id(e) for e in experiment_ids]
        if run_ids is None:
            try:
                return list(self._search(ids, view_type, filter_string or ""))
            except InvalidInputError:
                if not filter_string:
                    raise
                return list(self._search(ids, view_type))  # the filter is only a hint: the caller applies it
        runs: List[RunRecord] = []
        wanted = [v.validate_run_id(r) for r in run_ids]
        for start in range(0, len(wanted), IDS_PER_SEARCH):
            chunk = ", ".join(f"'{r}'" for r in wanted[start : start + IDS_PER_SEARCH])
            runs.extend(self._search(ids, view_type, f"attributes.run_id IN ({chunk})"))
        return runs

    # heartbeats -------------------------------------------------------------------------
    def write_heartbeat(self, run_id: str, owner: Heartbeat) -> None:
        self._owners[run_id] = owner
        self._set_tag(run_id, HEARTBEAT_TAG, heartbeat_text(owner, _now_ms()))

    def touch_heartbeat(self, run_id: str) -> None:
        owner = self._owners.get(run_id)
        if owner is None or self.delivery.is_down():
            return
        body = {"run_id": run_id, "key": HEARTBEAT_TAG, "value": heartbeat_text(owner, _now_ms())}
        try:
            self.client.call("runs/set-tag", body, retries=0, timeout=min(BEAT_TIMEOUT, self.client.settings.timeout))
        except ServerUnreachableError:
            self.delivery.mark_down()  # the next beats wait for the backoff instead of blocking the writer
            raise

    def read_heartbeat(self, run_id: str) -> Optional[Heartbeat]:
        return self.heartbeat_of(self.get_run(run_id))

    def heartbeat_of(self, run: RunRecord) -> Optional[Heartbeat]:
        text = self._beats.get(run.run_id)
        return parse_heartbeat(text) if text else None

    def remove_heartbeat(self, run_id: str) -> None:
        """Stop beating; the tag itself goes with the final status (see :mod:`.delivery`)."""
        self._owners.pop(run_id, None)

    def _set_tag(self, run_id: str, key: str, value: str) -> None:
        self.client.call("runs/set-tag", {"run_id": v.validate_run_id(run_id), "key": key, "value": value})

    # run data ---------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Tuple[str, float, int, int]] = (),
        params: Mapping[str, str] = {},
        tags: Mapping[str, str] = {},
    ) -> None:
        run_id = v.validate_run_id(run_id)
        clean_params = v.params(params)
        clean_tags = v.tags(tags)
        points = [metric_json(v.metric_point(*point)) for point in metrics]
        if points or clean_params or clean_tags:
            self.delivery.send(run_id, {"batch": {"metrics": points, "params": clean_params, "tags": clean_tags}})
        known = self._infos.get(run_id)
        if known is not None and RUN_NAME_TAG in clean_tags:  # the server renames the run with the tag
            known.run_name = clean_tags[RUN_NAME_TAG]

    def flush_run(self, run_id: str) -> None:
        self.delivery.flush(run_id)

    def delete_tag(self, run_id: str, key: str) -> None:
        key = v.validate_key(key, "Tag")
        self.flush_run(run_id)
        try:
            self.client.call("runs/delete-tag", {"run_id": v.validate_run_id(run_id), "key": key})
        except InvalidInputError as exc:
            if "No tag with name" in str(exc):
                raise NotFoundError(f"Recorder {run_id} has no tag {key!r}.") from None
            raise

    def get_metric_history(self, run_id: str, key: str) -> List[MetricPoint]:
        key = v.validate_key(key, "Metric")
        body = {"run_id": v.validate_run_id(run_id), "metric_key": key, "max_results": HISTORY_PAGE}
        points: List[MetricPoint] = []
        token = None
        while True:
            answer = self.client.call("metrics/get-history", dict(body, page_token=token) if token else body, "GET")
            points.extend(metric_point(m) for m in answer.get("metrics") or ())
            token = answer.get("next_page_token")
            if not token:
                break
        if not points:
            raise NotFoundError(f"Recorder {run_id} has no metric {key!r}.")
        return points

    # artifacts --------------------------------------------------------------------------
    def artifact_uri(self, run_id: str) -> str:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id).artifact_uri
        return uri

    def _artifacts(self, run_id: str) -> ArtifactLocation:
        return ArtifactLocation(self.artifact_uri(v.validate_run_id(run_id)), self.client)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: Optional[str] = None) -> None:
        if not os.path.exists(local_path):
            raise NotFoundError(f"No file or folder {local_path!r} to log as an artifact.")
        self._artifacts(run_id).upload(local_path, v.artifact_subpath(artifact_path) or None)

    def list_artifacts(self, run_id: str, path: Optional[str] = None) -> List[ArtifactEntry]:
        return self._artifacts(run_id).list(v.artifact_subpath(path) or None)

    def download_artifact(self, run_id: str, path: str, dst_path: Optional[str] = None) -> str:
        folder = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="litexp-download-")
        os.makedirs(folder, exist_ok=True)
        return self._artifacts(run_id).download(v.artifact_subpath(path), folder)

    def local_artifact(self, run_id: str, path: str) -> str:
        folder = os.path.join(self._cache_dir(), v.validate_run_id(run_id))
        return self._artifacts(run_id).download(v.artifact_subpath(path), folder)

    def _cache_dir(self) -> str:
        if self._cache is None:
            self._cache = tempfile.mkdtemp(prefix="litexp-artifacts-")
            atexit.register(shutil.rmtree, self._cache, True)
        return self._cache

    def local_run_dir(self, run_id: str) -> str:
        raise LitexpError(
            f"Recorder {run_id} is kept by the MLflow server {self.tracking_uri}; it has no local folder. "
            "Use download_artifact() / list_artifacts() to reach its files."
        )


def _taken_message(name: str, existing: Optional[ExperimentRecord]) -> str:
    if existing is not None and existing.lifecycle_stage == DELETED:
        return (
            f"Experiment {name!r} exists in the deleted state (id {existing.experiment_id}) on the server. "
            "Restore it, or delete it for good on the server (mlflow gc), to use the name again."
        )
    suffix = f" (id {existing.experiment_id})" if existing is not None else ""
    return f"Experiment {name!r} already exists{suffix}."


__all__ = ["RestStore"]
