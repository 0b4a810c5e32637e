"""Reading one run folder into a :class:`RunRecord`, tolerating what real stores contain.

Whatever cannot be parsed (a damaged meta.yaml, a stray file name, an empty or
torn metric file) is skipped with one warning; the rest of the run is read.
File contents come from a source (:mod:`.index`): the disk, or an index
that remembers what it parsed while files stay unchanged.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple

from ...errors import LitexpError
from .index import DiskSource
from .layout import Layout, meta_path
from ...records import ACTIVE, INT_TO_STATUS, RUN_NAME_TAG, STATUS_TO_INT, DatasetInput, RunRecord, Selection
from ..validation import validate_key

Warn = Callable[..., None]
_DISK = DiskSource()


def _status_name(raw: Any) -> str:
    if raw is None:
        return "RUNNING"
    if isinstance(raw, int) and raw in INT_TO_STATUS:
        return INT_TO_STATUS[raw]
    if isinstance(raw, str) and raw.upper() in STATUS_TO_INT:
        return raw.upper()
    raise ValueError(f"unknown status {raw!r}")


def read_run_meta(run_dir: str, warn: Warn, source: DiskSource = _DISK) -> Optional[RunRecord]:
    """The run's meta data (no metrics/params/tags), or None if it is not a readable run."""
    meta_file = meta_path(run_dir)
    try:
        meta = source.meta(meta_file)
    except FileNotFoundError:
        if os.path.basename(run_dir).startswith("."):
            warn(run_dir, "litexp: skipping %s: not a run folder", run_dir)
        return None
    except Exception as exc:
        warn(meta_file, "litexp: skipping run folder %s: unreadable meta.yaml (%s)", run_dir, exc)
        return None
    try:
        if not isinstance(meta, dict):
            raise ValueError("meta.yaml is not a mapping")
        run_id = str(meta.get("run_id") or meta["run_uuid"])
        if run_id != os.path.basename(run_dir):
            raise ValueError(f"meta.yaml names run {run_id}")
        start = meta.get("start_time")
        end = meta.get("end_time")
        return RunRecord(
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


def _walk(source: DiskSource, folder: str) -> Iterator[Tuple[str, str]]:
    """``(key, path)`` of every file below ``folder``; keys use ``/`` separators."""
    stack = [("", folder)]
    sep = os.sep
    while stack:
        prefix, current = stack.pop()
        for name, is_dir in source.listing(current):
            if is_dir:
                stack.append((prefix + name + "/", current + sep + name))
            else:
                yield prefix + name, current + sep + name


def _files(source: DiskSource, folder: str, keys: Optional[FrozenSet[str]], kind: str) -> Iterator[Tuple[str, str]]:
    if keys is None:
        yield from _walk(source, folder)
        return
    for key in keys:
        try:
            validate_key(key, kind)
        except LitexpError:
            continue  # no such file can be in a store
        path = os.path.join(folder, *key.split("/"))
        if source.exists(path):
            yield key, path


def _read_texts(source: DiskSource, folder: str, keys: Optional[FrozenSet[str]], kind: str, warn: Warn) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, path in _files(source, folder, keys, kind):
        try:
            validate_key(key, kind)
            out[key] = source.text(path)
        except (LitexpError, OSError, UnicodeDecodeError) as exc:
            warn(path, "litexp: skipping %s file %s (%s)", kind.lower(), path, exc)
    return out


def _read_latest_metrics(source: DiskSource, folder: str, keys: Optional[FrozenSet[str]], warn: Warn) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for key, path in _files(source, folder, keys, "Metric"):
        try:
            validate_key(key, "Metric")
            best, skipped = source.latest(path)
        except (LitexpError, OSError) as exc:
            warn(path, "litexp: skipping metric file %s (%s)", path, exc)
            continue
        if skipped:
            warn(path, "litexp: skipped %d unreadable line(s) in metric file %s", skipped, path)
        if best is None:
            warn(path + "#empty", "litexp: skipping metric file %s: no readable line", path)
            continue
        out[key] = best[1]
    return out


def _read_datasets(run_dir: str, warn: Warn) -> List[DatasetInput]:
    from . import fs

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
                DatasetInput(name=str(dataset["name"]), digest=str(dataset["digest"]), context=tags.get("mlflow.data.context"))
            )
        except Exception as exc:
            warn(path, "litexp: skipping dataset input %s (%s)", path, exc)
    return found


def read_run(
    run_dir: str,
    warn: Warn,
    meta: Optional[RunRecord] = None,
    source: DiskSource = _DISK,
    selection: Optional[Selection] = None,
) -> Optional[RunRecord]:
    """The run: meta data, latest metrics, params, tags and dataset inputs (or the selected ones)."""
    record = meta or read_run_meta(run_dir, warn, source)
    if record is None:
        return None
    sel = selection or Selection()
    record.metrics = _read_latest_metrics(source, Layout.data_dir(run_dir, "Metric"), sel.metrics, warn)
    record.params = _read_texts(source, Layout.data_dir(run_dir, "Param"), sel.params, "Param", warn)
    record.tags = _read_texts(source, Layout.data_dir(run_dir, "Tag"), sel.tags, "Tag", warn)
    record.datasets = _read_datasets(run_dir, warn) if sel.datasets else []
    if not record.run_name:
        name = record.tags.get(RUN_NAME_TAG)
        if name is None and sel.tags is not None:
            name = _read_texts(source, Layout.data_dir(run_dir, "Tag"), frozenset({RUN_NAME_TAG}), "Tag", warn).get(
                RUN_NAME_TAG
            )
        record.run_name = name or ""
    return record
