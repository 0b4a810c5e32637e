"""Storage backends behind one interface, chosen by URI scheme (:mod:`.registry`).

:class:`FileStore` (:mod:`.file`) writes and reads MLflow's ``mlruns`` layout.
"""

from ..records import ArtifactEntry, ExperimentRecord, MetricPoint, RunRecord, ViewType
from .file import FileStore
from .interface import TrackingStore
from .registry import check_uri, open_store, register_scheme
from .uri import path_to_uri, split_uri, uri_to_path

__all__ = [
    "FileStore",
    "TrackingStore",
    "check_uri",
    "open_store",
    "register_scheme",
    "path_to_uri",
    "split_uri",
    "uri_to_path",
    "ArtifactEntry",
    "ExperimentRecord",
    "MetricPoint",
    "RunRecord",
    "ViewType",
]
