"""A run's params, metric points and tags on disk: lock-free appends and creates.
One part of :class:`~litexp.store.file.FileStore`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ...errors import InvalidInputError, NotFoundError
from ...records import RUN_NAME_TAG, MetricPoint
from .. import validation as v
from . import fs
from . import metric_lines as lines
from .key_files import Warnings, data_path, write_tag_file
from .layout import Layout, key_path
from .meta import RunMeta
from .runs import Runs, check_active


class RunData:
    """Writes and reads the data files of the runs of one store."""

    def __init__(self, layout: Layout, meta: RunMeta, runs: Runs, warn: Warnings) -> None:
        self.layout = layout
        self.meta = meta
        self.runs = runs
        self.warn_once = warn

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
        params_dir = self.layout.data_dir(run_dir, "Param")
        for key, text in clean_params.items():
            path = data_path(params_dir, key, "Param")
            data = text.encode("utf-8")
            if not fs.create_file(path, data, run_dir):
                current = fs.read_bytes(path)
                if current != data:
                    raise InvalidInputError(
                        f"Param {key!r} of recorder {run_id} is already {current.decode('utf-8', 'replace')!r}; "
                        f"params cannot change (tried {text!r}). Log it under another key or start a new recorder."
                    )
        metrics_dir = self.layout.data_dir(run_dir, "Metric")
        for key, points in by_key.items():
            path = data_path(metrics_dir, key, "Metric")
            points = lines.without_repeats(points, fs.last_line(path))
            if points:
                fs.append_to_file(path, lines.format_lines(points), run_dir)
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
