"""Reading one run folder into a :class:`RunRecord`, tolerating what real stores contain.

Whatever cannot be parsed (a damaged meta.yaml, a stray file name, an empty or
torn metric file) is skipped with one warning; the rest of the run is read.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional

from ..errors import LitexpError
from . import _fs
from . import _metric_lines as lines
from .records import ACTIVE, INT_TO_STATUS, STATUS_TO_INT, DatasetInput, RunRecord
from .validation import validate_key

Warn = Callable[..., None]
META = "meta.yaml"


def _status_name(raw: Any) -> str:
    if raw is None:
        return "RUNNING"
    if isinstance(raw, int) and raw in INT_TO_STATUS:
        return INT_TO_STATUS[raw]
    if isinstance(raw, str) and raw.upper() in STATUS_TO_INT:
        return raw.upper()
    raise ValueError(f"unknown status {raw!r}")


def read_run_meta(run_dir: str, warn: Warn) -> Optional[RunRecord]:
    """The run's meta data (no metrics/params/tags), or None if it is not a readable run."""
    meta_path = os.path.join(run_dir, META)
    try:
        meta = _fs.load_yaml(meta_path)
    except FileNotFoundError:
        if os.path.basename(run_dir).startswith("."):
            warn(run_dir, "litexp: skipping %s: not a run folder", run_dir)
        return None
    except Exception as exc:
        warn(meta_path, "litexp: skipping run folder %s: unreadable meta.yaml (%s)", run_dir, exc)
        return None
    try:
        if not isinstance(meta, dict):
            raise ValueError("meta.yaml is not a mapping")
        run_id = str(meta.get("run_id") or meta["run_uuid"])
        if run_id != os.path.basename(run_dir):
            raise ValueError(f"meta.yaml names run {run_id}")
        start = meta.get("start_time")
        end = meta.get("end_time")
        record = RunRecord(
            run_id=run_id,
            experiment_id=str(meta["experiment_id"]),
            run_name=str(meta.get("run_name") or ""),
            user_id=str(meta.get("user_id") if meta.get("user_id") is not None else ""),
            status=_status_name(meta.get("status")),
            start_time=int(start) if start is not None else 0,
            end_time=int(end) if end is not None else None,
            artifact_uri=str(meta.get("artifact_uri") or ""),
            lifecycle_stage=str(meta.get("lifecycle_stage") or ACTIVE),
            deleted_time=meta.get("deleted_time"),
        )
    except Exception as exc:
        warn(meta_path, "litexp: skipping run folder %s: bad meta.yaml (%s)", run_dir, exc)
        return None
    return record


def _read_text_files(folder: str, kind: str, warn: Warn) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, path in _fs.walk_files(folder):
        try:
            validate_key(key, kind)
            out[key] = _fs.read_text(path)
        except (LitexpError, OSError, UnicodeDecodeError) as exc:
            warn(path, "litexp: skipping %s file %s (%s)", kind.lower(), path, exc)
    return out


def read_latest_metrics(folder: str, warn: Warn) -> Dict[str, float]:
    """Latest value of every readable metric file below ``folder``."""
    out: Dict[str, float] = {}
    for key, path in _fs.walk_files(folder):
        try:
            validate_key(key, "Metric")
            points, skipped = lines.parse_history(_fs.read_bytes(path))
        except (LitexpError, OSError) as exc:
            warn(path, "litexp: skipping metric file %s (%s)", path, exc)
            continue
        if skipped:
            warn(path, "litexp: skipped %d unreadable line(s) in metric file %s", skipped, path)
        best = lines.latest(points)
        if best is None:
            warn(path + "#empty", "litexp: skipping metric file %s: no readable line", path)
            continue
        out[key] = best[1]
    return out


def _read_datasets(run_dir: str, warn: Warn) -> List[DatasetInput]:
    inputs = os.path.join(run_dir, "inputs")
    if not os.path.isdir(inputs):
        return []
    datasets_dir = os.path.join(os.path.dirname(run_dir), "datasets")
    found: List[DatasetInput] = []
    for name in sorted(_fs.list_subfolders(inputs)):
        path = os.path.join(inputs, name, META)
        try:
            link = _fs.load_yaml(path)
            if link.get("source_type") != "DATASET":
                continue
            dataset = _fs.load_yaml(os.path.join(datasets_dir, str(link["source_id"]), META))
            tags = link.get("tags") or {}
            found.append(
                DatasetInput(
                    name=str(dataset["name"]),
                    digest=str(dataset["digest"]),
                    context=tags.get("mlflow.data.context"),
                )
            )
        except Exception as exc:
            warn(path, "litexp: skipping dataset input %s (%s)", path, exc)
    return found


def read_run(run_dir: str, warn: Warn, meta: Optional[RunRecord] = None) -> Optional[RunRecord]:
    """The whole run: meta data, latest metrics, params, tags and dataset inputs."""
    record = meta or read_run_meta(run_dir, warn)
    if record is None:
        return None
    record.metrics = read_latest_metrics(os.path.join(run_dir, "metrics"), warn)
    record.params = _read_text_files(os.path.join(run_dir, "params"), "Param", warn)
    record.tags = _read_text_files(os.path.join(run_dir, "tags"), "Tag", warn)
    record.datasets = _read_datasets(run_dir, warn)
    if not record.run_name:
        record.run_name = record.tags.get("mlflow.runName", "")
    return record
