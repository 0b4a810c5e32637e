"""``litexp report``: one self-contained HTML file of runs, metric charts and differing params
(:func:`litexp.report`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_uri, uri_of
from ._output import Progress

__all__ = ["register", "run"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, not {value}")
    return value


def register(sub: Any) -> None:
    """Add the verb to the parser."""
    from .._report import MAX_POINTS_PER_SERIES, MAX_RUNS

    p = sub.add_parser(
        "report",
        help="write one self-contained HTML report: runs table, metric charts, differing params (litexp.report)",
        description="Write one HTML file that opens offline (file://): the runs table (click a header to sort), "
        "one chart per metric with every run's history overlaid (legend, values on hover) and the "
        "params that differ between the runs.",
    )
    p.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="experiment names or ids (default: every active experiment)",
    )
    p.add_argument(
        "-o",
        "--output",
        default="report.html",
        metavar="FILE",
        help="the HTML file to write, replaced whole (default: report.html)",
    )
    p.add_argument(
        "--filter",
        default=None,
        metavar="FILTER",
        help="only the runs matching this MLflow filter, e.g. \"metrics.ic > 0.02 and params.model = 'lgbm'\"",
    )
    p.add_argument("--title", default=None, help="the page's title (default: the experiments' names)")
    p.add_argument(
        "--max-runs",
        type=_positive,
        default=MAX_RUNS,
        metavar="N",
        help=f"show at most N runs, the newest (default: {MAX_RUNS})",
    )
    p.add_argument(
        "--max-points",
        type=_positive,
        default=MAX_POINTS_PER_SERIES,
        metavar="N",
        help=f"thin each run's line of a chart to at most N points, N >= 4 (default: {MAX_POINTS_PER_SERIES})",
    )
    add_uri(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; print its path and what it holds."""
    from .._report import report

    with Progress("report: reading metric histories") as progress:
        path = report(
            uri_of(args),
            args.experiments or None,
            output=args.output,
            filter_string=args.filter,
            progress=progress,
            title=args.title,
            max_runs=args.max_runs,
            max_points_per_series=args.max_points,
        )
    print(
        f"wrote {path}: {path.runs} run{'' if path.runs == 1 else 's'}, "
        f"{path.metrics} metric{'' if path.metrics == 1 else 's'} ({path.points} points drawn)"
    )
    for note in path.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
