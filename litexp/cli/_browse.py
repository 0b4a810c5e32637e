"""The verbs that look at a store: ``experiments``, ``runs``, ``show``, ``diff``, ``history``,
``artifacts`` — each a call of :mod:`litexp.tables`."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Sequence

from .. import tables
from .._gc import format_bytes
from ..errors import InvalidInputError, NotFoundError
from ._common import add_format, add_uri, add_view, manager
from ._output import emit, render

__all__ = ["register"]

#: In a table without ``--columns`` or ``--wide``, these frame columns are left out (the note
#: under the table says so): they are long and the same in most rows.
QUIET_COLUMNS = ("artifact_uri",)
QUIET_TAG_PREFIX = "tags.mlflow."
RUN_NAME_COLUMN = "tags.mlflow.runName"


def _split(values: Optional[Sequence[str]]) -> List[str]:
    """Repeatable options that also take comma-separated lists."""
    out: List[str] = []
    for value in values or ():
        out += [part.strip() for part in value.split(",") if part.strip()]
    return out


def _cmd_experiments(args: argparse.Namespace) -> int:
    frame = tables.experiments(manager(args), view=args.view, filter_string=args.filter, order_by=args.order_by)
    if args.format == "table" and not args.wide:
        frame = frame[[c for c in frame.columns if c != "artifact_location" and not c.startswith(QUIET_TAG_PREFIX)]]
    emit(frame, args.format, args.wide, empty="no experiments")
    return 0


def _readable(frame: Any, several_experiments: bool) -> Any:
    """The runs frame arranged for reading: id, name, status, times, metrics, params, own tags."""
    columns = list(frame.columns)
    front = ["run_id"] + ([RUN_NAME_COLUMN] if RUN_NAME_COLUMN in columns else [])
    if several_experiments:
        front.append("experiment_id")
    front += [c for c in ("status", "lifecycle_stage", "start_time", "end_time") if c in columns]
    rest = [
        c
        for c in columns
        if c not in front and c != "experiment_id" and c not in QUIET_COLUMNS and not c.startswith(QUIET_TAG_PREFIX)
    ]
    frame = frame[front + rest]
    return frame.rename(columns={RUN_NAME_COLUMN: "run_name"})


def _cmd_runs(args: argparse.Namespace) -> int:
    mgr = manager(args)
    if not args.experiments and not args.all:
        names = list(mgr.list_experiments())
        raise InvalidInputError(
            f"Name an experiment (a name or an id) or give --all; the active experiments are: "
            f"{', '.join(repr(n) for n in names) or 'none'}."
        )
    columns = _split(args.columns)
    frame = tables.runs(
        mgr,
        args.experiments or None,
        all_experiments=args.all,
        filter_string=args.filter,
        order_by=_split(args.order_by) or None,
        max_results=args.max_results,
        columns=columns or None,
        view=args.view,
    )
    if args.format == "table" and not args.wide and not columns and len(frame):
        frame = _readable(frame, frame["experiment_id"].nunique() > 1)
    emit(frame, args.format, args.wide, empty="no runs")
    return 0


def _pairs(mapping: Dict[str, Any], args: argparse.Namespace, indent: str = "") -> str:
    """``key  value`` lines, aligned as a table without its header row."""
    text = render([{"key": k, "value": v} for k, v in mapping.items()], "table", args.wide)
    return "\n".join(indent + line for line in text.splitlines()[1:])


def _section(title: str, mapping: Dict[str, Any], out: List[str], args: argparse.Namespace) -> None:
    out.append(f"{title} ({len(mapping)})" if mapping else f"{title}: none")
    if mapping:
        out.append(_pairs(mapping, args, "  "))


def _cmd_show(args: argparse.Namespace) -> int:
    details = tables.run_details(manager(args), args.run_id)
    if args.format == "json":
        import json

        from ._output import json_value

        print(json.dumps(json_value(details), indent=2, ensure_ascii=False, allow_nan=False))
        return 0
    if args.format != "table":
        rows = [
            {"section": section, "key": key, "value": value}
            for section in ("info", "params", "metrics", "tags")
            for key, value in details[section].items()
        ]
        rows += [
            {"section": "artifacts", "key": a["path"], "value": "(folder)" if a["is_dir"] else a["size"]}
            for a in details["artifacts"]
        ]
        emit(rows, args.format, args.wide)
        return 0
    out: List[str] = []
    out.append(_pairs(details["info"], args))
    for title in ("params", "metrics", "tags"):
        _section(title, details[title], out, args)
    files = details["artifacts"]
    if files:
        count = sum(1 for a in files if not a["is_dir"])
        out.append(f"artifacts ({count} file{'' if count == 1 else 's'})")
        for entry in files:
            depth = entry["path"].count("/")
            name = entry["path"].rsplit("/", 1)[-1] + ("/" if entry["is_dir"] else "")
            size = "" if entry["is_dir"] or entry["size"] is None else f"  {format_bytes(entry['size'])}"
            out.append("  " + "  " * depth + name + size)
    else:
        out.append("artifacts: none")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    frame = tables.diff(manager(args), args.run_ids, all_keys=args.all_keys)
    if args.format == "table" and not args.wide:
        frame = frame.rename(
            columns={
                c: c[:8] for c in frame.columns[1:] if len({x[:8] for x in frame.columns[1:]}) == len(frame.columns) - 1
            }
        )
    emit(
        frame,
        args.format,
        args.wide,
        empty="no differences" + ("" if args.all_keys else " (--all-keys shows every key)"),
    )
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    emit(tables.history(manager(args), args.run_id, args.metric), args.format, args.wide, empty="no points")
    return 0


def _cmd_artifacts(args: argparse.Namespace) -> int:
    mgr = manager(args)
    if args.download is not None:
        run = tables.find_run(mgr, args.run_id)
        if args.path:
            print(mgr.store.download_artifact(run.run_id, args.path, args.download))
            return 0
        entries = mgr.store.list_artifacts(run.run_id, None)
        if not entries:
            raise NotFoundError(f"Run {run.run_id} has no artifacts to download.")
        for entry in entries:
            print(mgr.store.download_artifact(run.run_id, entry.path, args.download))
        return 0
    emit(tables.artifacts(mgr, args.run_id, args.path), args.format, args.wide, empty="no artifacts")
    return 0


def register(sub: Any) -> None:
    """Add the verbs of this module to the ``litexp`` parser."""
    p = sub.add_parser(
        "experiments",
        help="list experiments (litexp.tables.experiments)",
        description="One row per experiment, newest first.",
    )
    add_uri(p)
    add_view(p, "experiments")
    p.add_argument(
        "--filter", default=None, metavar="F", help="MLflow's experiment filter, e.g. \"name LIKE 'alpha%%'\""
    )
    p.add_argument(
        "--order-by", action="append", metavar="K", help="e.g. 'name ASC' or 'creation_time DESC' (repeatable)"
    )
    add_format(p)
    p.set_defaults(func=_cmd_experiments)

    p = sub.add_parser(
        "runs",
        help="search runs (R.search_records / litexp.tables.runs)",
        description="Search the runs of experiments with MLflow's filter language.",
    )
    p.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help="experiment names or ids")
    p.add_argument("--all", action="store_true", help="search every active experiment")
    add_uri(p)
    p.add_argument("--filter", default=None, metavar="F", help="e.g. \"metrics.ic > 0.02 and params.model = 'lgbm'\"")
    p.add_argument(
        "--order-by", action="append", metavar="K", help="e.g. 'metrics.ic DESC' (repeatable, or comma-separated)"
    )
    p.add_argument("--max-results", type=int, default=None, metavar="N", help="at most N runs (default: every match)")
    p.add_argument(
        "--columns",
        action="append",
        metavar="PATTERN,...",
        help="only these columns, as globs: 'metrics.*,params.lr' (run_id always comes first)",
    )
    add_view(p, "runs")
    add_format(p)
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser(
        "show", help="one run: info, params, latest metrics, tags, artifacts (litexp.tables.run_details)"
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run's id")
    add_uri(p)
    add_format(p)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser(
        "diff",
        help="params, metrics and tags of runs side by side (litexp.tables.diff)",
        description="Only the keys whose values differ, unless --all-keys.",
    )
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="two run ids or more")
    p.add_argument("--all-keys", action="store_true", help="every key, also those equal in all runs")
    add_uri(p)
    add_format(p)
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("history", help="every point of a metric: step, value, timestamp (litexp.tables.history)")
    p.add_argument("run_id", metavar="RUN_ID", help="the run's id")
    p.add_argument("metric", metavar="METRIC", help="the metric's key")
    add_uri(p)
    add_format(p)
    p.set_defaults(func=_cmd_history)

    p = sub.add_parser("artifacts", help="list a run's artifacts, or download them (litexp.tables.artifacts)")
    p.add_argument("run_id", metavar="RUN_ID", help="the run's id")
    p.add_argument(
        "path",
        nargs="?",
        default=None,
        metavar="PATH",
        help="a folder or file under the run's artifacts (default: all)",
    )
    p.add_argument(
        "--download",
        default=None,
        metavar="DST",
        help="copy PATH (default: every artifact) into the folder DST and print where",
    )
    add_uri(p)
    add_format(p)
    p.set_defaults(func=_cmd_artifacts)
