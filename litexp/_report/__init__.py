"""``litexp.report``: one self-contained HTML file of a store's runs that opens offline.

The page has the runs table (sortable by clicking a header, or at load with ``#sort=KEY`` /
``#sort=-KEY`` in the URL, KEY being ``run``, ``status``, ``start``, ``duration``,
``metrics.<key>`` or ``params.<key>``), one chart per metric with every run's history overlaid
(a legend that hides, shows and highlights runs; the nearest point's value on hover; a log
scale when the values allow; bars for metrics logged once per run) and the params that differ
between the runs (those every run shares are listed once).
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Union

from ._data import Caps, collect
from ._page import check_output, page, write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from ..manager import ExpManager

__all__ = ["report", "ReportPath", "Caps"]

_DEFAULTS = Caps()
MAX_RUNS = _DEFAULTS.runs
MAX_METRICS = _DEFAULTS.metrics
MAX_POINTS_PER_SERIES = _DEFAULTS.points_per_series
MAX_POINTS_TOTAL = _DEFAULTS.points_total


class ReportPath(str):
    """The path of a report written by :func:`report`, with what it holds: ``runs``,
    ``metrics`` (charts), ``points`` (drawn in all charts) and ``notes`` (what was left out)."""

    runs: int
    metrics: int
    points: int
    notes: List[str]

    def __new__(
        cls, path: str, runs: int = 0, metrics: int = 0, points: int = 0, notes: Optional[List[str]] = None
    ) -> "ReportPath":
        self = super().__new__(cls, path)
        self.runs, self.metrics, self.points, self.notes = runs, metrics, points, list(notes or [])
        return self


def _title(data: Dict[str, Any]) -> str:
    names = [e["name"] for e in data["experiments"]]
    if not names:
        return "litexp report"
    if len(names) > 3:
        return f"litexp report: {', '.join(names[:3])} and {len(names) - 3} more"
    return "litexp report: " + ", ".join(names)


def report(
    uri: Union[str, "ExpManager", None] = None,
    experiments: Optional[Sequence[str]] = None,
    output: str = "report.html",
    filter_string: Optional[str] = None,
    progress: Optional[Callable[[int, Optional[int]], None]] = None,
    *,
    title: Optional[str] = None,
    max_runs: int = MAX_RUNS,
    max_metrics: int = MAX_METRICS,
    max_points_per_series: int = MAX_POINTS_PER_SERIES,
    max_points_total: int = MAX_POINTS_TOTAL,
) -> ReportPath:
    """Write one self-contained HTML report of the runs of ``experiments`` and return its path.

    ``uri`` is the store (``None``: ``$MLFLOW_TRACKING_URI``, else ``./mlruns``; an
    :class:`~litexp.ExpManager` also works); ``experiments`` are names or ids (none: every
    active experiment); ``filter_string`` is MLflow's run filter (``"metrics.ic > 0.02"``);
    ``progress(done, total)`` is called while metric histories are read. The file is written
    through a temporary file and a rename, so it is either the old one or the whole new one.

    The page loads nothing and needs no network (its Content-Security-Policy forbids it);
    everything from the store is shown as text. Its bounds, each noted in the page when it
    applies: at most ``max_runs`` runs (500, the newest first), ``max_metrics`` metrics
    (50, by name), ``max_points_per_series`` points per run's line (1,000) and
    ``max_points_total`` points over all lines (200,000, shared equally, never fewer than 16
    a line); a longer line keeps its first and last points and, in equal stretches, the lowest
    and highest value of each; at most 50 param columns.

    Returns a :class:`ReportPath` (a ``str``, the absolute path) carrying the counts shown.
    Unknown experiments raise :class:`~litexp.errors.NotFoundError`; a bad filter
    :class:`~litexp.errors.SearchSyntaxError`; a missing output folder NotFoundError.
    """
    from .. import tables
    from .._version import __version__

    caps = Caps(
        runs=max_runs, metrics=max_metrics, points_per_series=max_points_per_series, points_total=max_points_total
    )
    caps.check()
    path = check_output(output)
    manager = (
        uri
        if uri is not None and not isinstance(uri, (str, os.PathLike))
        else tables.open_manager(None if uri is None else os.fspath(uri))
    )
    if isinstance(experiments, str):
        experiments = [experiments]
    data = collect(manager, experiments, filter_string, caps, progress)
    data["generated"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    data["version"] = __version__
    text = page(data, title or _title(data), __version__)
    write_atomic(path, text)
    return ReportPath(
        path, runs=len(data["runs"]), metrics=len(data["charts"]), points=data["points"], notes=data["notes"]
    )
