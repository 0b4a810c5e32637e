"""Plain records exchanged between the store, the search layer and the API.

They carry no behaviour and know nothing about files, so a second backend
can produce them and the search layer can consume them without reading disk.
Statuses, lifecycle stages, view types and MLflow's reserved tag names are
spelled here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Tuple

__all__ = [
    "RUN_STATUSES",
    "STATUS_TO_INT",
    "INT_TO_STATUS",
    "ACTIVE",
    "DELETED",
    "ViewType",
    "ExperimentRecord",
    "RunRecord",
    "MetricPoint",
    "DatasetInput",
    "ArtifactEntry",
    "Heartbeat",
    "Selection",
    "RUN_NAME_TAG",
    "USER_TAG",
    "SOURCE_NAME_TAG",
    "SOURCE_TYPE_TAG",
    "GIT_COMMIT_TAG",
    "PARENT_RUN_TAG",
]

#: MLflow's reserved run tags that litexp writes or reads.
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
PARENT_RUN_TAG = "mlflow.parentRunId"

#: Run statuses, by MLflow's integer code as written in ``meta.yaml``.
STATUS_TO_INT = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}
INT_TO_STATUS = {v: k for k, v in STATUS_TO_INT.items()}
RUN_STATUSES = tuple(STATUS_TO_INT)

ACTIVE = "active"
DELETED = "deleted"

#: The folder a store gets by default (``<cwd>/mlruns``), as Qlib and MLflow name it.
DEFAULT_STORE_FOLDER = "mlruns"


class ViewType:
    """Which lifecycle stages a listing or search returns (MLflow's codes)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @staticmethod
    def stages(view_type: int) -> Tuple[str, ...]:
        if view_type == ViewType.ACTIVE_ONLY:
            return (ACTIVE,)
        if view_type == ViewType.DELETED_ONLY:
            return (DELETED,)
        return (ACTIVE, DELETED)


@dataclass
class ExperimentRecord:
    """What the store knows about one experiment."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = ACTIVE
    creation_time: Optional[int] = None
    last_update_time: Optional[int] = None
    tags: Dict[str, str] = field(default_factory=dict)


@dataclass
class DatasetInput:
    """A dataset a run logged as an input (read from MLflow 3's ``inputs/``)."""

    name: str
    digest: str
    context: Optional[str] = None


@dataclass
class RunRecord:
    """One run: its meta data and the latest value of every metric.

    ``status`` is the upper-case name (``"FINISHED"``); times are integer
    milliseconds since the epoch, ``end_time`` is ``None`` while running.
    """

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: Optional[int]
    artifact_uri: str
    lifecycle_stage: str = ACTIVE
    deleted_time: Optional[int] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    datasets: List[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True)
class MetricPoint:
    """One line of a metric's history."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class ArtifactEntry:
    """A file or folder under a run's artifacts, path relative to the artifact root."""

    path: str
    is_dir: bool
    file_size: Optional[int] = None


@dataclass(frozen=True)
class Heartbeat:
    """Who runs a RUNNING run, and when it last showed signs of life.

    ``pid_start`` and ``boot_id`` tell a live process from a later one that
    reuses the pid (or from the same pid after a reboot).
    """

    host: str
    pid: int
    pid_start: Optional[int] = None
    boot_id: Optional[str] = None
    last_beat_ms: Optional[int] = None


@dataclass(frozen=True)
class Selection:
    """Which keys of each run a query reads, so a loader may skip the rest.

    ``None`` means every key of that kind; the search layer's ``needed_keys``
    answers with the sets a filter and an order name.
    """

    metrics: Optional[FrozenSet[str]] = None
    params: Optional[FrozenSet[str]] = None
    tags: Optional[FrozenSet[str]] = None
    datasets: bool = True
