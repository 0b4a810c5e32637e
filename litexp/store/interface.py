"""The storage interface the API layer is written against.

:class:`~litexp.store.file.FileStore` implements it on MLflow's ``mlruns``
layout; another backend (an MLflow tracking server) implements the same methods
and registers its URI scheme in :mod:`litexp.store.registry`. The interface
speaks of experiments, runs and artifacts; where a caller needs a local file
(unpickling an artifact, Qlib's ``get_local_dir``) it asks for one through a
method that may download.
"""

from __future__ import annotations

import abc
import os
import tempfile
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..errors import InvalidInputError
from ..records import ArtifactEntry, ExperimentRecord, Heartbeat, MetricPoint, RunRecord, Selection
from . import validation as v


class TrackingStore(abc.ABC):
    """Experiments, runs and their data. Names and values are validated here."""

    #: True when ``load_runs`` with a selection may leave other keys out (a server sends whole runs).
    partial_loads: bool = True

    # experiments -----------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(self, name: str, tags: Optional[Mapping[str, str]] = None) -> ExperimentRecord:
        """Create an experiment; raise ExpAlreadyExistError if the name is taken (active or deleted)."""

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> Tuple[ExperimentRecord, bool]:
        """The active experiment called ``name``, created if missing; race-free across processes."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        """By id, active or deleted; NotFoundError when missing."""

    @abc.abstractmethod
    def find_experiment(self, name: str, view_type: int = 3) -> Optional[ExperimentRecord]:
        """By name, or None."""

    @abc.abstractmethod
    def list_experiments(self, view_type: int = 1) -> List[ExperimentRecord]:
        """Every readable experiment in the view."""

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft delete: the experiment and its active runs become deleted."""

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one experiment tag."""

    # runs -----------------------------------------------------------------
    @abc.abstractmethod
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
        """A new RUNNING run; ``owner`` (the process running it) and ``params`` are written
        before the run is visible. ``artifacts`` (plain file name → content) become artifact
        files of the run: a file store writes them into the new run folder before the run is
        visible when its experiment keeps artifacts there, else right after it is created."""

    @staticmethod
    def _artifact_files(artifacts: Optional[Mapping[str, bytes]]) -> Dict[str, bytes]:
        """A copy of :meth:`create_run`'s ``artifacts``; a name that is not a plain file name is refused."""
        files = dict(artifacts or {})
        for name in files:
            if not isinstance(name, str) or not name or "/" in name or v.artifact_subpath(name) != name:
                raise InvalidInputError(f"Artifact file name {name!r} of a new run must be a plain file name.")
        return files

    def _log_file_contents(self, run_id: str, files: Mapping[str, bytes]) -> None:
        """Log each content as an artifact file at the run's artifact root (through a temporary folder)."""
        with tempfile.TemporaryDirectory(prefix="litexp-") as tmp:
            for name, data in files.items():
                path = os.path.join(tmp, name)
                with open(path, "wb") as fh:
                    fh.write(data)
                self.log_artifact(run_id, path)

    @abc.abstractmethod
    def get_run(self, run_id: str, experiment_id: Optional[str] = None) -> RunRecord:
        """One run with its latest metrics, params and tags; NotFoundError when missing.

        ``experiment_id``, when the caller knows it, lets the store go straight to the run."""

    @abc.abstractmethod
    def update_run(self, run_id: str, status: str, end_time: Optional[int]) -> RunRecord:
        """Set status and end time; returns the run's meta data (no metrics, params or tags)."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Soft delete (the run stays on disk, marked deleted)."""

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""

    @abc.abstractmethod
    def list_run_ids(self, experiment_id: str, view_type: int = 1) -> List[str]:
        """Ids of the readable runs of one experiment in the view (meta data only)."""

    @abc.abstractmethod
    def load_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = 1,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
        filter_string: Optional[str] = None,
    ) -> List[RunRecord]:
        """Every readable run of these experiments, with data, for searching.

        ``selection`` limits the metrics/params/tags read; ``run_ids`` the runs.
        ``filter_string`` (MLflow's grammar) is a hint: a store that can filter
        may leave out the runs it rejects; the caller applies its full filter anyway.
        """

    def iter_runs(
        self,
        experiment_ids: Sequence[str],
        view_type: int = 1,
        selection: Optional[Selection] = None,
        run_ids: Optional[Sequence[str]] = None,
        filter_string: Optional[str] = None,
    ) -> Iterator[RunRecord]:
        """:meth:`load_runs` one run at a time (a store that can stream holds only the current run)."""
        return iter(self.load_runs(experiment_ids, view_type, selection, run_ids, filter_string))

    @abc.abstractmethod
    def write_heartbeat(self, run_id: str, owner: Heartbeat) -> None:
        """Record the process running a run, and beat."""

    def heartbeat_of(self, run: RunRecord) -> Optional[Heartbeat]:
        """The heartbeat of a run just loaded (a store keeping it in the run's tags reads no more)."""
        return self.read_heartbeat(run.run_id)

    @abc.abstractmethod
    def touch_heartbeat(self, run_id: str) -> None:
        """Refresh the heartbeat of a run."""

    @abc.abstractmethod
    def read_heartbeat(self, run_id: str) -> Optional[Heartbeat]:
        """Owner and last beat of a run, or None."""

    @abc.abstractmethod
    def remove_heartbeat(self, run_id: str) -> None:
        """Forget the owner of a run (when it ends)."""

    # run data -------------------------------------------------------------
    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Tuple[str, float, int, int]] = (),
        params: Mapping[str, str] = {},
        tags: Mapping[str, str] = {},
    ) -> None:
        """Write params (immutable), metric points ``(key, value, timestamp, step)`` and tags."""

    def flush_run(self, run_id: str) -> None:
        """Wait until everything logged to the run is stored (a remote store's spool delivered)."""
        return None

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one run tag."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> List[MetricPoint]:
        """Every point of a metric, in the order logged."""

    # artifacts ------------------------------------------------------------
    @abc.abstractmethod
    def log_artifact(self, run_id: str, local_path: str, artifact_path: Optional[str] = None) -> None:
        """Copy a file, or a folder's content, under the run's artifacts."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str, path: Optional[str] = None) -> List[ArtifactEntry]:
        """Direct children of an artifact folder."""

    @abc.abstractmethod
    def download_artifact(self, run_id: str, path: str, dst_path: Optional[str] = None) -> str:
        """A local path holding the artifact (the file in the store, or a copy under ``dst_path``)."""

    @abc.abstractmethod
    def local_artifact(self, run_id: str, path: str) -> str:
        """A local path where an existing artifact can be read (a remote store downloads it)."""

    @abc.abstractmethod
    def local_run_dir(self, run_id: str) -> str:
        """The run's local folder (a file store's run folder); a LitexpError for a store without one."""

    def exists(self) -> bool:
        """Is the store there (a file store's root exists, a server answers)?"""
        return True

    @abc.abstractmethod
    def artifact_uri(self, run_id: str) -> str:
        """The run's artifact URI."""

    # permanent removal (``litexp gc``) -------------------------------------
    def _cannot_purge(self) -> InvalidInputError:
        return InvalidInputError(
            f"{type(self).__name__} cannot remove runs for good; only a file store can here. The runs of "
            "an MLflow server are removed on the server: `mlflow gc --backend-store-uri <its database>`."
        )

    def deleted_runs(
        self, older_than_ms: Optional[int] = None, experiment_ids: Optional[Sequence[str]] = None
    ) -> List[RunRecord]:
        """Deleted runs (of active and deleted experiments) deleted at least ``older_than_ms`` ago
        (a run without a deletion time always counts), meta data only; ``experiment_ids`` limits
        the experiments. MLflow's ``_get_deleted_runs``."""
        raise self._cannot_purge()

    def purge_run(
        self, run_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False
    ) -> List[Tuple[str, str, Optional[str], str, int]]:
        """Remove a deleted run for good, if it still is deleted (and old enough) at that moment.

        Returns ``(kind, experiment_id, run_id, path, bytes)`` for each thing removed (``dry_run``:
        that would be): ``run`` (its folder), ``artifacts`` (artifacts kept elsewhere). NotFoundError
        when the run is gone; InvalidInputError when it is not deleted or deleted too recently.
        """
        raise self._cannot_purge()

    def purge_experiment(
        self, experiment_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False
    ) -> List[Tuple[str, str, Optional[str], str, int]]:
        """Remove a deleted experiment for good with all its runs, if it still is deleted (and its
        ``last_update_time`` older than ``older_than_ms``) at that moment; as :meth:`purge_run`,
        with one ``run`` row per run and one ``experiment`` row."""
        raise self._cannot_purge()

    def finish_purges(self, dry_run: bool = False) -> List[Tuple[str, str, Optional[str], str, int]]:
        """Delete what removals cut short (a crash) left behind; as :meth:`purge_run`."""
        raise self._cannot_purge()
