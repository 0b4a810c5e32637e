"""What a report shows, as one JSON-ready dict: runs, their params and metrics, and each
metric's histories, bounded by :class:`Caps`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import tables
from ..errors import InvalidInputError, NotFoundError
from ..manager import ExpManager
from ..records import RUN_NAME_TAG, MetricPoint, ViewType

__all__ = ["Caps", "collect", "downsample", "json_number", "shown_uri"]

Progress = Optional[Callable[[int, Optional[int]], None]]
RUN_NAME_COLUMN = "tags." + RUN_NAME_TAG
SHORT_ID = 8


@dataclass(frozen=True)
class Caps:
    """The bounds that keep a report usable whatever the store holds."""

    #: Runs in the table and the charts (the newest, in the runs frame's order).
    runs: int = 500
    #: Metric keys with a column and a chart (the first in key order).
    metrics: int = 50
    #: Points of one run's line in one chart.
    points_per_series: int = 1000
    #: Points of every line of the page together; each line then gets an equal share...
    points_total: int = 200_000
    #: ...but never fewer than this many.
    points_floor: int = 16
    #: Param columns (params that differ between the runs, in key order).
    param_columns: int = 50

    def check(self) -> None:
        """InvalidInputError naming the first cap below its minimum."""
        for name, least, option in (
            ("runs", 1, "max_runs (--max-runs)"),
            ("metrics", 1, "max_metrics"),
            ("points_per_series", 4, "max_points_per_series (--max-points)"),
            ("points_total", 4, "max_points_total"),
            ("points_floor", 4, "points_floor"),
            ("param_columns", 0, "param_columns"),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise InvalidInputError(
                    f"The report's {option} must be a whole number of at least {least}, not {value!r}."
                )


def json_number(value: Any) -> Any:
    """A metric value for JSON: finite floats as numbers, NaN and infinities as strings."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _epoch_ms(value: Any) -> Optional[int]:
    if value is None or value != value:
        return None
    if hasattr(value, "timestamp"):
        return int(round(value.timestamp() * 1000))
    return None


def shown_uri(uri: str) -> str:
    """The store's URI without any ``user:password@`` in it (the page may be shared)."""
    head, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        netloc, slash, path = rest.partition("/")
        return head + sep + netloc.rsplit("@", 1)[1] + slash + path
    return uri


def _text(value: Any) -> Optional[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def downsample(count: int, values: Sequence[Optional[float]], cap: int) -> List[int]:
    """Indices of the points to keep of a line of ``count`` points: all when ``count <= cap``;
    else the first, the last and, in ``cap // 2 - 1`` equal runs of points, the lowest and the
    highest value of each (in their order), so peaks and dips survive."""
    if count <= cap:
        return list(range(count))
    keep = {0, count - 1}
    buckets = max(cap // 2 - 1, 1)
    inner = count - 2
    for b in range(buckets):
        lo = 1 + inner * b // buckets
        hi = 1 + inner * (b + 1) // buckets
        best_lo = best_hi = None
        for i in range(lo, hi):
            v = values[i]
            if v is None:
                continue
            if best_lo is None or v < values[best_lo]:  # type: ignore[operator]
                best_lo = i
            if best_hi is None or v > values[best_hi]:  # type: ignore[operator]
                best_hi = i
        if best_lo is not None:
            keep.add(best_lo)
            keep.add(best_hi)  # type: ignore[arg-type]
    return sorted(keep)


def _labels(runs: List[Dict[str, Any]], several: bool) -> None:
    """A legend label per run: its name (or short id), with the experiment when there are
    several, and the short id when two labels would be the same."""
    for run in runs:
        base = run["name"] or run["id"][:SHORT_ID]
        run["label"] = f"{run['experiment']} / {base}" if several else base
    seen: Dict[str, int] = {}
    for run in runs:
        seen[run["label"]] = seen.get(run["label"], 0) + 1
    for run in runs:
        if seen[run["label"]] > 1:
            run["label"] += f" ({run['id'][:SHORT_ID]})"


def _history(store: Any, run_id: str, key: str) -> List[MetricPoint]:
    try:
        return list(store.get_metric_history(run_id, key))
    except (NotFoundError, InvalidInputError):
        return []


def _series(points: List[MetricPoint], by_time: bool, cap: int) -> Tuple[Dict[str, Any], int]:
    """One run's line of one metric, sorted by x, cut to ``cap`` points; and its finite count."""
    order = sorted(points, key=(lambda p: (p.timestamp, p.step)) if by_time else (lambda p: (p.step, p.timestamp)))
    values = [p.value if math.isfinite(p.value) else None for p in order]
    kept = downsample(len(order), values, cap)
    t0 = order[0].timestamp
    return {
        "s": [order[i].step for i in kept],
        "t": [order[i].timestamp - t0 for i in kept],
        "t0": t0,
        "v": [values[i] for i in kept],
        "n": len(order),
    }, sum(1 for v in values if v is not None)


def _charts(
    store: Any,
    runs: List[Dict[str, Any]],
    keys: List[str],
    caps: Caps,
    estimate: int,
    progress: Progress,
    notes: List[str],
) -> Tuple[List[Dict[str, Any]], int]:
    """A chart per metric key with every run's line; and the number of points drawn."""
    share = min(caps.points_per_series, max(caps.points_floor, caps.points_total // max(estimate, 1)))
    total = len(runs) * len(keys)
    done = 0
    if progress is not None:
        progress(0, total)
    charts: List[Dict[str, Any]] = []
    drawn = 0
    cut_lines = 0
    for key in keys:
        histories: List[Tuple[int, List[MetricPoint]]] = []
        for index, run in enumerate(runs):
            points = _history(store, run["id"], key)
            if points:
                histories.append((index, points))
            done += 1
            if progress is not None:
                progress(done, total)
        if not histories:
            continue
        single = all(len(points) == 1 for _, points in histories)
        # all steps of every line the same (metrics logged without a step): wall time instead
        by_time = not single and all(len({p.step for p in points}) == 1 for _, points in histories)
        chart: Dict[str, Any] = {
            "key": key,
            "kind": "bar" if single else "line",
            "x": "time" if by_time else "step",
            "series": [],
        }
        hidden_values = 0
        for index, points in histories:
            series, finite = _series(points, by_time, share)
            series["run"] = index
            chart["series"].append(series)
            drawn += len(series["v"])
            hidden_values += len(points) - finite
            if len(series["v"]) < len(points):
                cut_lines += 1
        cut = sum(1 for s in chart["series"] if len(s["v"]) < s["n"])
        chart_notes = []
        if cut:
            chart_notes.append(f"{cut} of {len(chart['series'])} lines thinned to {share} points")
        if hidden_values:
            chart_notes.append(f"{hidden_values} NaN or infinite value{'s' if hidden_values > 1 else ''} not drawn")
        chart["note"] = "; ".join(chart_notes)
        charts.append(chart)
    if cut_lines:
        notes.append(
            f"{cut_lines} line{'s' if cut_lines > 1 else ''} with more than {share} points "
            f"{'were' if cut_lines > 1 else 'was'} thinned to {share}: the first and last point and, "
            "in equal stretches, the lowest and highest value of each (the table shows the latest "
            "value logged)."
        )
    return charts, drawn


def _differing(runs: List[Dict[str, Any]], caps: Caps, notes: List[str]) -> Tuple[List[str], List[List[str]]]:
    """The param keys whose values differ between the runs (capped), and ``[key, value]`` of the
    params every run has with the same value."""
    keys = sorted({k for run in runs for k in run["params"]})
    differ: List[str] = []
    same: List[List[str]] = []
    for key in keys:
        values = {run["params"].get(key) for run in runs}
        if len(values) > 1 or len(runs) == 1:
            differ.append(key)
        else:
            same.append([key, next(iter(values))])
    if len(runs) == 1:  # nothing to compare: the one run's params are all shown
        differ, same = keys, []
    if len(differ) > caps.param_columns:
        left = differ[caps.param_columns :]
        notes.append(
            f"{len(differ)} params differ between the runs; the table shows the first "
            f"{caps.param_columns} by name (not shown: {', '.join(left[:10])}{', …' if len(left) > 10 else ''})."
        )
        differ = differ[: caps.param_columns]
    for run in runs:
        run["params"] = {k: run["params"][k] for k in differ if k in run["params"]}
    return differ, same


def collect(
    manager: ExpManager,
    experiments: Optional[Sequence[str]],
    filter_string: Optional[str],
    caps: Caps,
    progress: Progress = None,
) -> Dict[str, Any]:
    """Everything the page shows, as JSON-ready data (see ``report.js`` for its use)."""
    store = manager.store
    if experiments:
        chosen = tables.resolve_experiments(manager, list(experiments), view="active")
    else:
        chosen = list(store.list_experiments(ViewType.ACTIVE_ONLY))
    names = {r.experiment_id: r.name for r in store.list_experiments(ViewType.ALL)}
    names.update({r.experiment_id: r.name for r in chosen})
    notes: List[str] = []
    frame = tables.runs(
        manager,
        list(experiments) if experiments else None,
        filter_string=filter_string,
        max_results=caps.runs + 1,
        view="active",
    )
    if len(frame) > caps.runs:
        notes.append(
            f"More than {caps.runs} runs match: the report shows the {caps.runs} newest. Name fewer "
            "experiments or narrow them with --filter (filter_string)."
        )
        frame = frame.iloc[: caps.runs]
    metric_columns = sorted(c for c in frame.columns if c.startswith("metrics."))
    param_columns = [c for c in frame.columns if c.startswith("params.")]
    all_metrics = [c[len("metrics.") :] for c in metric_columns]
    keys = all_metrics[: caps.metrics]
    if len(all_metrics) > caps.metrics:
        left = all_metrics[caps.metrics :]
        notes.append(
            f"The runs have {len(all_metrics)} metrics; the report shows the first {caps.metrics} by "
            f"name (not shown: {', '.join(left[:10])}{', …' if len(left) > 10 else ''})."
        )
    runs: List[Dict[str, Any]] = []
    estimate = 0
    for row in frame.to_dict("records"):
        metrics: Dict[str, Any] = {}
        for key in keys:
            value = row.get("metrics." + key)
            if value is not None and value == value:
                metrics[key] = json_number(value)
                estimate += 1
        params = {c[len("params.") :]: _text(row.get(c)) for c in param_columns}
        run_id = str(row["run_id"])
        runs.append(
            {
                "id": run_id,
                "name": _text(row.get(RUN_NAME_COLUMN)) or "",
                "experiment": names.get(str(row["experiment_id"]), str(row["experiment_id"])),
                "experimentId": str(row["experiment_id"]),
                "status": _text(row.get("status")) or "",
                "start": _epoch_ms(row.get("start_time")),
                "end": _epoch_ms(row.get("end_time")),
                "metrics": metrics,
                "params": {k: v for k, v in params.items() if v is not None},
            }
        )
    shown_experiments = {run["experimentId"] for run in runs}
    if not experiments and shown_experiments:  # every experiment: those with runs to show
        chosen = [r for r in chosen if r.experiment_id in shown_experiments]
    _labels(runs, len(shown_experiments) > 1)
    param_keys, same = _differing(runs, caps, notes)
    charts, drawn = _charts(store, runs, keys, caps, estimate, progress, notes)
    return {
        "experiments": [{"id": r.experiment_id, "name": r.name} for r in chosen],
        "filter": filter_string or None,
        "store": shown_uri(str(manager.uri)),
        "runs": runs,
        "metricKeys": keys,
        "paramKeys": param_keys,
        "sameParams": same,
        "charts": charts,
        "points": drawn,
        "notes": notes,
    }
