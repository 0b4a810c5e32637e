"""Reading one run folder into a :class:`RunRecord`, tolerating what real stores contain.

Whatever cannot be parsed (a damaged meta.yaml, a stray file name, an empty or
torn metric file) is skipped with one warning; the rest of the run is read.
The folder walk and the data files are read by :mod:`.scan`; this module
checks meta.yaml and reads dataset inputs.
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional, Tuple

from ...records import ACTIVE, INT_TO_STATUS, STATUS_TO_INT, DatasetInput, RunRecord
from . import fs
from .layout import Layout, meta_path

Warn = Callable[..., None]


def _status_name(raw: Any) -> str:
    if raw is None:
        return "RUNNING"
    if isinstance(raw, int) and raw in INT_TO_STATUS:
        return INT_TO_STATUS[raw]
    if isinstance(raw, str) and raw.upper() in STATUS_TO_INT:
        return raw.upper()
    raise ValueError(f"unknown status {raw!r}")


def meta_fields(meta: Any, run_dir: str) -> Tuple[Any, ...]:
    """The checked fields of a run's parsed meta.yaml (see :func:`record_from_fields`);
    ValueError (or KeyError, TypeError) when it is not a readable run."""
    if not isinstance(meta, dict):
        raise ValueError("meta.yaml is not a mapping")
    run_id = str(meta.get("run_id") or meta["run_uuid"])
    if run_id != os.path.basename(run_dir):
        raise ValueError(f"meta.yaml names run {run_id}")
    start = meta.get("start_time")
    end = meta.get("end_time")
    deleted = meta.get("deleted_time")
    return (
        str(meta["experiment_id"]),
        str(meta.get("run_name") or ""),
        str(meta.get("user_id") if meta.get("user_id") is not None else ""),
        _status_name(meta.get("status")),
        int(start) if start is not None else 0,
        int(end) if end is not None else None,
        str(meta.get("artifact_uri") or ""),
        str(meta.get("lifecycle_stage") or ACTIVE),
        deleted if deleted is None or type(deleted) in (int, float, str) else str(deleted),
    )


def record_from_fields(run_id: str, fields: Tuple[Any, ...]) -> RunRecord:
    """A run record (no metrics, params or tags yet) from :func:`meta_fields`."""
    experiment_id, run_name, user_id, status, start, end, artifact_uri, stage, deleted = fields
    return RunRecord(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=run_name,
        user_id=user_id,
        status=status,
        start_time=start,
        end_time=end,
        artifact_uri=artifact_uri,
        lifecycle_stage=stage,
        deleted_time=deleted,
    )


def read_run_meta(run_dir: str, warn: Warn) -> Optional[RunRecord]:
    """The run's meta data (no metrics/params/tags), or None if it is not a readable run."""
    meta_file = meta_path(run_dir)
    try:
        meta = fs.load_yaml(meta_file)
    except FileNotFoundError:
        if os.path.basename(run_dir).startswith("."):
            warn(run_dir, "litexp: skipping %s: not a run folder", run_dir)
        return None
    except Exception as exc:
        warn(meta_file, "litexp: skipping run folder %s: unreadable meta.yaml (%s)", run_dir, exc)
        return None
    try:
        return record_from_fields(os.path.basename(run_dir), meta_fields(meta, run_dir))
    except Exception as exc:
        warn(meta_file, "litexp: skipping run folder %s: bad meta.yaml (%s)", run_dir, exc)
        return None


def read_datasets(run_dir: str, warn: Warn) -> List[DatasetInput]:
    inputs = Layout.inputs_dir(run_dir)
    if not os.path.isdir(inputs):
        return []
    datasets_dir = Layout.datasets_dir(os.path.dirname(run_dir))
    found: List[DatasetInput] = []
    for name in sorted(fs.list_subfolders(inputs)):
        path = meta_path(os.path.join(inputs, name))
        try:
            link = fs.load_yaml(path)
            if link.get("source_type") != "DATASET":
                continue
            dataset = fs.load_yaml(meta_path(os.path.join(datasets_dir, str(link["source_id"]))))
            tags = link.get("tags") or {}
            found.append(
                DatasetInput(
                    name=str(dataset["name"]), digest=str(dataset["digest"]), context=tags.get("mlflow.data.context")
                )
            )
        except Exception as exc:
            warn(path, "litexp: skipping dataset input %s (%s)", path, exc)
    return found
