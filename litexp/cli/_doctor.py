"""``litexp doctor [--fix]``: check a file store for what MLflow fails on, and repair it (:func:`litexp.doctor`).

Exit status: 0 when nothing is (left) wrong, 1 when problems are found and not all repaired, 2 on an
error (a folder that is not a store, a server). ``--format json`` (csv, tsv, markdown) gives every
problem's ``fixed`` (false without ``--fix``); a table shows it with ``--fix`` only."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any, List

from ._common import add_format, add_uri, uri_of
from ._output import Progress, emit, terminal_width

__all__ = ["register", "run"]

DESCRIPTION = (
    "Check a file store (an mlruns folder) for what MLflow's file store fails on: torn metric lines in "
    "runs that are not running, empty or unreadable meta.yaml files, metric/param/tag files MLflow cannot "
    "read, stray folders, leftover temporary files (older than an hour), runs left RUNNING whose process "
    "is gone, experiments sharing a name, a damaged search index. Each problem is printed with its "
    "experiment and run and what --fix does. --fix repairs what is safe and never deletes data: cut lines "
    "and moved files are kept in the run's .litexp-doctor/ folder (or <store>/.litexp-doctor.trash/), "
    "damaged meta.yaml files are rebuilt from what the folder holds, dead runs are ended KILLED. "
    "In the default format each problem is a short block; --wide and the other formats print one row per "
    "problem (--format json: kind, experiment_id, run_id, message, fix, fixed, path; fixed is false without "
    "--fix). A folder that is not an mlruns store (no .trash folder and no experiment meta.yaml) is "
    "refused. Exit status: 0 when nothing is (left) wrong, 1 when problems are found and not all "
    "repaired, 2 on an error."
)


def register(sub: Any) -> None:
    """Add the verb to the parser."""
    p = sub.add_parser(
        "doctor",
        help="check a file store for what MLflow fails on; --fix repairs it (litexp.doctor)",
        description=DESCRIPTION,
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="repair what is safe to repair (nothing is deleted: what is taken out is kept aside)",
    )
    add_uri(p)
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``litexp doctor``: one entry per problem, then a summary; exit 1 when problems are found and
    not all repaired."""
    from .._doctor import doctor

    uri = uri_of(args)
    with Progress("litexp doctor: repairing" if args.fix else "litexp doctor: checking") as progress:
        report = doctor(uri, fix=args.fix, progress=progress)
    if args.format == "table" and not args.wide:
        _print_blocks(report, args.fix)
    else:
        rows = report.rows()  # "fixed" in every row (false when only checking), but in a table that only checks
        if not args.fix and args.format == "table":
            for row in rows:
                del row["fixed"]
        emit(rows, args.format, args.wide, empty=report.summary())
        if report.problems or args.format != "table":
            print(report.summary(), file=sys.stdout if args.format == "table" else sys.stderr)
    return 0 if report.ok else 1


def _print_blocks(report: Any, fixing: bool) -> None:
    """Each problem as a heading (kind, experiment, run) and its text wrapped to the terminal."""
    width = max(40, min(terminal_width(), 120))
    out: List[str] = []
    for p in report.problems:
        head = [p.kind]
        if p.experiment_id is not None:
            head.append(f"experiment {p.experiment_id}")
        if p.run_id is not None:
            head.append(f"run {p.run_id}")
        out.append("  ".join(head))
        label = ("fixed: " if p.fixed else "not fixed: ") if fixing else "fix: "
        for text in (p.message, label + p.fix, p.path):
            out.append(
                textwrap.fill(
                    text,
                    width,
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    if out:
        out.append("")
    out.append(report.summary())
    sys.stdout.write("\n".join(out) + "\n")
