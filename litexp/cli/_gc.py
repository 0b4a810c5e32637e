"""``litexp gc``: remove deleted runs and experiments for good (:func:`litexp.gc`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional

from ._common import add_format, add_uri, manager, uri_of
from ._output import Progress, emit

GC_COLUMNS = ("kind", "experiment_id", "run_id", "name", "deleted_time", "bytes", "path")

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the verb to the parser."""
    p = sub.add_parser(
        "gc",
        help="remove deleted runs and experiments for good (litexp.gc, like `mlflow gc`)",
        description="Permanently remove the deleted runs (lifecycle stage `deleted`, in active and deleted "
        "experiments) and the deleted experiments (in .trash) of a file store, as `mlflow gc` "
        "does. Each removal is checked again as it happens: a run restored meanwhile is kept. "
        "Exit status 1 when something could not be removed.",
    )
    p.add_argument(
        "--older-than",
        metavar="DURATION",
        default=None,
        help="only what was deleted at least this long ago: 30d, 12h, 1d2h3m4s, 1.5h, or "
        "seconds (MLflow's format); default: everything deleted",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    p.add_argument(
        "--experiment",
        action="append",
        metavar="NAME_OR_ID",
        default=None,
        help="only in this experiment (repeatable): its deleted runs, and the experiment itself when it is deleted",
    )
    add_uri(p)
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``litexp gc``: the table of what was (would be) removed, then a summary line."""
    from .._gc import format_bytes, gc, parse_duration
    from ..store import split_uri, uri_to_path

    uri = uri_of(args)
    older = parse_duration(args.older_than) if args.older_than is not None else None
    experiment_ids: Optional[List[str]] = None
    if args.experiment:
        from ..tables import resolve_experiments

        if split_uri(uri)[0] not in ("http", "https"):  # gc itself explains what to do on a server
            experiment_ids = [r.experiment_id for r in resolve_experiments(manager(args), args.experiment, "all")]
    with Progress("litexp gc: checking" if args.dry_run else "litexp gc: removing") as progress:
        report = gc(uri, older_than=older, dry_run=args.dry_run, experiment_ids=experiment_ids, progress=progress)
    rows = report.rows()
    if args.format == "table" and not args.wide:  # sizes to read, paths inside the store from its root
        root = uri_to_path(uri)
        rows = [dict(row, bytes=format_bytes(row["bytes"]), path=_inside(row["path"], root)) for row in rows]
    for row in rows:
        row["deleted_time"] = _utc(row["deleted_time"])
    emit(rows, args.format, args.wide, empty="nothing to remove", columns=GC_COLUMNS)
    for message in report.kept:
        print(f"litexp: kept: {message}", file=sys.stderr)
    for message in report.notes:
        print(f"litexp: {message}", file=sys.stderr)
    for message in report.failed:
        print(f"litexp: not removed: {message}", file=sys.stderr)
    summary = report.summary()
    print(summary, file=sys.stdout if args.format == "table" else sys.stderr)
    return 0 if report.ok else 1


def _inside(path: str, root: str) -> str:
    """``path`` relative to the store root when it is inside it."""
    import os

    relative = os.path.relpath(path, root)
    return path if relative.startswith(os.pardir) else relative


def _utc(ms: Optional[int]) -> Any:
    import datetime as dt

    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.timezone.utc)
