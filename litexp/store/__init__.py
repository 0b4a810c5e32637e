"""Storage backends. :class:`FileStore` writes and reads MLflow's ``mlruns`` layout."""

from .file_store import FileStore
from .interface import TrackingStore
from .records import ArtifactEntry, ExperimentRecord, MetricPoint, RunRecord, ViewType

__all__ = ["FileStore", "TrackingStore", "ArtifactEntry", "ExperimentRecord", "MetricPoint", "RunRecord", "ViewType"]
