"""``FileStore``: the :class:`TrackingStore` on MLflow's ``mlruns`` folders, composed of parts.

- :mod:`.layout` — every path and folder name (and lookups by id);
- :mod:`.meta` — the one read-modify-write of a run's meta.yaml, under the store lock;
- :mod:`.experiments`, :mod:`.runs`, :mod:`.run_data`, :mod:`.heartbeats`, :mod:`.artifacts`;
- :mod:`.key_files` — files named by metric/param/tag keys, and one warning per damaged file;
- :mod:`.locks` — the store lock; :mod:`.index` — the search index; :mod:`.scan` — reading runs for searches;
- :mod:`.purge` — removing deleted runs and experiments for good (``litexp gc``).

Opening a store writes nothing; the root (with ``.trash`` and the experiment
``0``, as MLflow makes it) is created by the first experiment created in it.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

from ...errors import InvalidInputError
from ...records import (
    ACTIVE,
    DELETED,
    ArtifactEntry,
    ExperimentRecord,
    Heartbeat,
    MetricPoint,
    RunRecord,
    Selection,
    ViewType,
)
from ..interface import TrackingStore
from ..uri import local_path_of, path_to_file_url
from . import fs
from .artifacts import ArtifactFolder
from .experiments import Experiments
from .heartbeats import Heartbeats
from .key_files import Warnings
from .layout import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, Layout, meta_path
from .locks import StoreLock
from .meta import RunMeta
from .purge import Purger
from .run_data import RunData
from .runs import Runs, check_active

#: How long a store another host is creating may stay invisible here (network file systems).
CREATE_RETRY_SECONDS = 10.0


class FileStore(TrackingStore):
    """A store on MLflow's ``mlruns`` layout rooted at ``root``."""

    def __init__(self, root: str) -> None:
        self.layout = Layout(root)
        self.root = self.layout.root
        self.trash = self.layout.trash
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise InvalidInputError(f"The store root {self.root} exists and is not a folder.")
        self.lock = StoreLock(self.root)
        self.warn_once = Warnings()
        self.meta = RunMeta(self.layout, self.lock)
        self.experiments = Experiments(self.layout, self.lock, self.meta, self.warn_once, self.ensure_created)
        self.heartbeats = Heartbeats(self.layout)
        self.runs = Runs(self.layout, self.meta, self.experiments, self.heartbeats, self.warn_once)
        self.data = RunData(self.layout, self.meta, self.runs, self.warn_once)
        self.purger = Purger(self.layout, self.lock, self.warn_once, self.runs.network)
        self._created = False

    def __repr__(self) -> str:
        return f"FileStore({self.root!r})"

    def exists(self) -> bool:
        """Is there a store at the root (a folder)?"""
        return self.layout.exists()

    def ensure_created(self) -> None:
        """Create the root, ``.trash`` and the experiment ``0`` when missing.

        Many processes (and hosts) may do this at once: each step tolerates the
        others' work, and a root another host made a moment ago that this host's
        file system does not show yet is waited for, never an error.
        """
        if self._created and os.path.isdir(self.trash):
            return
        deadline = time.monotonic() + CREATE_RETRY_SECONDS
        while True:
            try:
                os.makedirs(self.trash, exist_ok=True)
                if not os.path.isfile(meta_path(self.layout.experiment_dir(DEFAULT_EXPERIMENT_ID))):
                    with self.lock:
                        if not os.path.isfile(meta_path(self.layout.experiment_dir(DEFAULT_EXPERIMENT_ID))):
                            self.experiments.write_new(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None)
                break
            except (FileNotFoundError, FileExistsError, PermissionError) as exc:
                # another host's folder not visible yet (or, over SFTP, a lost mkdir race as EPERM)
                if time.monotonic() > deadline:
                    raise fs.storage_error(exc, self.root) from exc
                time.sleep(0.05)
        self._created = True

    # ------------------------------------------------------------ experiments
    def create_experiment(self, name: str, tags: Optional[Mapping[str, str]] = None) -> ExperimentRecord:
        return self.experiments.create_experiment(name, tags)

    def get_or_create_experiment(self, name: str) -> Tuple[ExperimentRecord, bool]:
        return self.experiments.get_or_create_experiment(name)

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        return self.experiments.get_experiment(experiment_id)

    def find_experiment(self, name: str, view_type: int = ViewType.ALL) -> Optional[ExperimentRecord]:
        return self.experiments.find_experiment(name, view_type)

    def list_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> List[ExperimentRecord]:
        return self.experiments.list_experiments(view_type)

    def delete_experiment(self, experiment_id: str) -> None:
        self.experiments.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self.experiments.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.experiments.set_experiment_tag(experiment_id, key, value)

    # ------------------------------------------------------------ runs
    def create_run(
        self,
        experiment_id: str,
        run_name: Optional[str],
        user_id: str,
        start_time: int,
        tags: Optional[Mapping[str, str]] = None,
        owner: Optional[Heartbeat] = None,
        params: Optional[Mapping[str, Any]] = None,
        artifacts: Optional[Mapping[str, bytes]] = None,
    ) -> RunRecord:
        files = self._artifact_files(artifacts)
        # the files written into the new run folder are taken out of ``files``
        run = self.runs.create_run(experiment_id, run_name, user_id, start_time, tags, owner, params, files)
        if files:  # the experiment keeps its artifacts elsewhere
            self._log_file_contents(run.run_id, files)
        return run

    def get_run(self, run_id: str, experiment_id: Optional[str] = None) -> RunRecord:
        return self.runs.get_run(run_id, experiment_id)

    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> RunRecord:
        return self.runs.update_run(run_id, status, end_time)

    def delete_run(self, run_id: str) -> None:
        self.runs.set_lifecycle(run_id, DELETED)

    def restore_run(self, run_id: str) -> None:
        self.runs.set_lifecycle(run_id, ACTIVE)

    def list_run_ids(self, experiment_id: str, view_type: int = ViewType.ACTIVE_ONLY) -> List[str]:
        return self.runs.list_run_ids(experiment_id, view_type)

    # ------------------------------------------------------------ permanent removal
    def deleted_runs(
        self, older_than_ms: Optional[int] = None, experiment_ids: Optional[Sequence[str]] = None
    ) -> List[RunRecord]:
        return self.purger.deleted_runs(older_than_ms, experiment_ids)

    def purge_run(
        self, run_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False
    ) -> List[Tuple[str, str, Optional[str], str, int]]:
        return self.purger.purge_run(run_id, older_than_ms, dry_run)

    def purge_experiment(
        self, experiment_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False
    ) -> List[Tuple[str, str, Optional[str], str, int]]:
        return self.purger.purge_experiment(experiment_id, older_than_ms, dry_run)

    def finish_purges(self, dry_run: bool = False) -> List[Tuple[str, str, Optional[str], str, int]]:
        return self.purger.finish(dry_run)

    def load_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
        filter_string: Optional[str] = None,
    ) -> List[RunRecord]:
        return self.runs.load_runs(experiment_ids, view_type, selection, run_ids)

    def iter_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = ViewType.ACTIVE_ONLY,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
        filter_string: Optional[str] = None,
    ) -> Iterator[RunRecord]:
        return self.runs.iter_runs(experiment_ids, view_type, selection, run_ids)

    def run_folder(self, run_id: str) -> str:
        """The run's folder in the store."""
        return self.layout.find_run_dir(run_id)

    def local_run_dir(self, run_id: str) -> str:
        return self.run_folder(run_id)

    # ------------------------------------------------------------ heartbeats
    def write_heartbeat(self, run_id: str, owner: Heartbeat) -> None:
        self.heartbeats.write(run_id, owner)

    def touch_heartbeat(self, run_id: str) -> None:
        self.heartbeats.touch(run_id)

    def read_heartbeat(self, run_id: str) -> Optional[Heartbeat]:
        return self.heartbeats.read(run_id)

    def remove_heartbeat(self, run_id: str) -> None:
        self.heartbeats.remove(run_id)

    # ------------------------------------------------------------ run data
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Tuple[str, Any, int, int]] = (),
        params: Mapping[str, Any] = {},
        tags: Mapping[str, Any] = {},
    ) -> None:
        self.data.log_batch(run_id, metrics, params, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.data.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> List[MetricPoint]:
        return self.data.get_metric_history(run_id, key)

    # ------------------------------------------------------------ artifacts
    def _artifacts(self, run_id: str, active: bool = False) -> ArtifactFolder:
        """The run's artifact folder: where its ``artifact_uri`` points, as MLflow reads it.

        A default-layout URI that no longer exists (a moved store, a deleted
        experiment in ``.trash``) means the ``artifacts`` folder of the run.
        ``active``: refuse a deleted run (before writing to it).
        """
        run_dir, meta = self.meta.load(run_id)
        if active:
            check_active(run_id, meta)
        default = self.layout.artifacts_dir(run_dir)
        uri = meta.get("artifact_uri")
        if not uri:
            return ArtifactFolder(default, tmp_folder=run_dir)
        path = local_path_of(str(uri), f"Artifacts of recorder {run_id}")
        if path == default or os.path.realpath(path) == os.path.realpath(default):
            return ArtifactFolder(default, tmp_folder=run_dir)
        moved_default = path.endswith(
            os.sep + self.layout.artifacts_dir(os.path.join(str(meta.get("experiment_id")), run_id))
        )
        if os.path.isdir(path) or not moved_default:
            return ArtifactFolder(path, tmp_folder=os.path.dirname(path))
        return ArtifactFolder(default, tmp_folder=run_dir)

    def artifact_uri(self, run_id: str) -> str:
        _, meta = self.meta.load(run_id)
        uri = meta.get("artifact_uri")
        return str(uri) if uri else path_to_file_url(self.layout.artifacts_dir(self.layout.find_run_dir(run_id)))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: Optional[str] = None) -> None:
        self._artifacts(run_id, active=True).add(local_path, artifact_path)

    def list_artifacts(self, run_id: str, path: Optional[str] = None) -> List[ArtifactEntry]:
        return self._artifacts(run_id).list(path)

    def download_artifact(self, run_id: str, path: str, dst_path: Optional[str] = None) -> str:
        return self._artifacts(run_id).download(path, dst_path)

    def local_artifact(self, run_id: str, path: str) -> str:
        """The path of an artifact inside the store (it must exist)."""
        return self._artifacts(run_id).existing(path)
