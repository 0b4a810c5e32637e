"""A run's params, metric points and tags on disk: lock-free appends and creates.
One part of :class:`~litexp.store.file.FileStore`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ...errors import InvalidInputError, NotFoundError
from ...records import RUN_NAME_TAG, MetricPoint
from .. import validation as v
from . import fs
from . import metric_lines as lines
from .key_files import Warnings, append_key_file, create_key_file, write_tag_file
from .layout import Layout, key_path
from .meta import RunMeta
from .runs import Runs, check_active

#: Metric files remembered as existing (beyond it the memory starts again).
_KNOWN_LIMIT = 10_000


class RunData:
    """Writes and reads the data files of the runs of one store."""

    def __init__(self, layout: Layout, meta: RunMeta, runs: Runs, warn: Warnings) -> None:
        self.layout = layout
        self.meta = meta
        self.runs = runs
        self.warn_once = warn
        #: (metrics folder, key) of the metric files this store object wrote: appended to at once, not created first.
        self._metric_files: Set[Tuple[str, str]] = set()

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Tuple[str, Any, int, int]] = (),
        params: Mapping[str, Any] = {},
        tags: Mapping[str, Any] = {},
    ) -> None:
        clean_params = v.params(params)
        clean_tags = v.tags(tags)
        by_key: Dict[str, List[Tuple[int, float, int]]] = {}
        for point in metrics:
            key, value, timestamp, step = v.metric_point(*point)
            by_key.setdefault(key, []).append((timestamp, value, step))
        run_dir, meta = self.meta.load(run_id, fresh=False)
        check_active(run_id, meta)
        if clean_params:
            params_dir = self.layout.data_dir(run_dir, "Param")
            for key, text in clean_params.items():
                data = text.encode("utf-8")
                made, path = create_key_file(run_dir, params_dir, key, "Param", data)
                if not made:
                    current = fs.read_bytes(path)
                    if current != data:
                        raise InvalidInputError(
                            f"Param {key!r} of recorder {run_id} is already {current.decode('utf-8', 'replace')!r}; "
                            f"params cannot change (tried {text!r}). Log it under another key or start a new recorder."
                        )
        if by_key:
            metrics_dir = self.layout.data_dir(run_dir, "Metric")
            known = self._metric_files
            if len(known) > _KNOWN_LIMIT:
                known.clear()
            for key, points in by_key.items():

                def render(last: Optional[bytes], points: List[Tuple[int, float, int]] = points) -> bytes:
                    if last is None and len(points) == 1:
                        return lines.format_lines(points)
                    kept = lines.without_repeats(points, last)
                    return lines.format_lines(kept) if kept else b""

                # a metric this store object has not written yet is most likely new: create it first
                seen = (metrics_dir, key)
                append_key_file(run_dir, metrics_dir, key, "Metric", render, create_first=seen not in known)
                known.add(seen)
        if clean_tags:
            tags_dir = self.layout.data_dir(run_dir, "Tag")
            for key, text in clean_tags.items():
                write_tag_file(run_dir, tags_dir, key, text)
        if RUN_NAME_TAG in clean_tags and clean_tags[RUN_NAME_TAG] != meta.get("run_name"):
            self.runs.rename(run_id, clean_tags[RUN_NAME_TAG])

    def delete_tag(self, run_id: str, key: str) -> None:
        key = v.validate_key(key, "Tag")
        run_dir, meta = self.meta.load(run_id)
        check_active(run_id, meta)
        path = key_path(self.layout.data_dir(run_dir, "Tag"), key)
        if not os.path.isfile(path):
            raise NotFoundError(f"Recorder {run_id} has no tag {key!r}.")
        os.unlink(path)

    def get_metric_history(self, run_id: str, key: str) -> List[MetricPoint]:
        key = v.validate_key(key, "Metric")
        run_dir = self.layout.find_run_dir(run_id)
        path = key_path(self.layout.data_dir(run_dir, "Metric"), key)
        if not os.path.isfile(path):
            raise NotFoundError(f"Recorder {run_id} has no metric {key!r}.")
        points, skipped = lines.parse_history(fs.read_bytes(path))
        if skipped:
            self.warn_once(path, "litexp: skipped %d unreadable line(s) in metric file %s", skipped, path)
        return [MetricPoint(key, val, ts, step) for ts, val, step in points]
