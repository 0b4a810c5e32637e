"""Command line: ``python -m litexp VERB`` (also installed as ``litexp``).

The verbs mirror library calls:

- ``experiments`` — ``R.list_experiments()`` (``--filter`` like MLflow's ``search_experiments``)
- ``runs EXPERIMENT`` — ``R.search_records(...)`` (``--filter``, ``--order-by``, ``--max-results``, ``--view``)
- ``stale [EXPERIMENT...]`` — ``ExpManager.end_stale_recorders`` (lists; ``--end`` marks them KILLED)
- ``ui [STORE]`` — open the store in ``mlflow ui`` (or print how to)
- ``spool`` — what waits for an MLflow server (``--send``: ``litexp.send_spool()``)
- ``push SOURCE --to TARGET`` / ``pull SOURCE --to TARGET`` — ``litexp.push`` / ``litexp.pull``
  (copy runs between stores; exit status 1 when a run could not be copied)

``--uri`` takes a file store or an MLflow server (``http://host:5000``).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _manager(uri: str):  # type: ignore[no-untyped-def]
    from .manager import FileExpManager

    return FileExpManager(uri, "Experiment")


def _cmd_experiments(args: argparse.Namespace) -> int:
    manager = _manager(args.uri)
    for name, exp in manager.list_experiments(filter_string=args.filter).items():
        print(f"{exp.id}\t{name}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    manager = _manager(args.uri)
    exp = manager.get_exp(experiment_name=args.experiment, create=False)
    frame = manager.search_records(
        [exp.id],
        filter_string=args.filter,
        order_by=args.order_by or None,
        max_results=args.max_results,
        run_view_type=args.view,
    )
    if args.csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        print(frame.to_string(index=False) if len(frame) else "no runs")
    return 0


def _cmd_stale(args: argparse.Namespace) -> int:
    manager = _manager(args.uri)
    ids = [manager.get_exp(experiment_name=name, create=False).id for name in args.experiments] or None
    if args.end:
        found = manager.end_stale_recorders(ids, max_age=args.max_age, include_unknown=args.include_unknown)
    else:
        found = {}
        exps = ids or [e.id for e in manager.list_experiments().values()]
        for exp_id in exps:
            exp = manager.get_exp(experiment_id=exp_id, create=False)
            found.update(exp.list_stale_recorders(args.max_age, args.include_unknown))
    for run_id, reason in found.items():
        print(f"{run_id}\t{'ended KILLED: ' if args.end else ''}{reason}")
    if not found:
        print("no stale runs")
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from ._ui import ui_main

    return ui_main(args.store, args.port, args.host)


def _cmd_spool(args: argparse.Namespace) -> int:
    from ._spool import send_spooled, spool_status

    waiting = spool_status(args.uri)
    for entry in waiting:
        print(f"{entry.tracking_uri}\t{entry.run_id}\t{entry.points} points\t{entry.path}")
    if not waiting:
        print("nothing spooled")
        return 0
    if args.send:
        delivered = send_spooled(waiting)  # the runs just listed, not read again
        print(f"sent {len(delivered)} run(s), {sum(delivered.values())} points")
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    from ._sync import copy_runs
    from .errors import LockTimeoutError

    try:
        report = copy_runs(args.source, args.to, args.experiment or None, args.filter, args.dry_run,
                           None if args.quiet else sys.stderr, args.wait)
    except LockTimeoutError as exc:  # cron-safe: the running copy does the work
        print(f"litexp: {exc}", file=sys.stderr)
        return 0
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litexp", description="Inspect and repair a litexp / MLflow store (mlruns folder or MLflow server).")
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("experiments", help="list active experiments (R.list_experiments)")
    p.add_argument("--uri", default="file:./mlruns", help="the store (default file:./mlruns)")
    p.add_argument("--filter", default=None, help="e.g. \"name LIKE 'alpha%%'\"")
    p.set_defaults(func=_cmd_experiments)

    p = sub.add_parser("runs", help="search the runs of an experiment (R.search_records)")
    p.add_argument("experiment", help="experiment name")
    p.add_argument("--uri", default="file:./mlruns")
    p.add_argument("--filter", default=None, help="e.g. \"metrics.ic > 0.02 and params.model = 'lgbm'\"")
    p.add_argument("--order-by", action="append", help="e.g. 'metrics.ic DESC' (repeatable)")
    p.add_argument("--max-results", type=int, default=None)
    p.add_argument("--view", default="ACTIVE_ONLY", help="ACTIVE_ONLY, DELETED_ONLY or ALL")
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("stale", help="find (and with --end, end as KILLED) runs whose process is gone")
    p.add_argument("experiments", nargs="*", help="experiment names (default: all)")
    p.add_argument("--uri", default="file:./mlruns")
    p.add_argument("--max-age", type=float, default=300.0, help="heartbeat age in seconds that counts as stale")
    p.add_argument("--include-unknown", action="store_true", help="also judge runs without a litexp heartbeat by age")
    p.add_argument("--end", action="store_true", help="mark them KILLED with the last heartbeat as end time")
    p.set_defaults(func=_cmd_stale)

    p = sub.add_parser("ui", help="open the store in MLflow's UI (or print how to)")
    p.add_argument("store", nargs="?", default=None, help="the mlruns folder (default ./mlruns)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=_cmd_ui)
    for verb, help_text in (("push", "copy runs to another store, usually a file store to an MLflow server"),
                            ("pull", "copy runs from another store, usually an MLflow server to a file store")):
        p = sub.add_parser(verb, help=f"{help_text} (litexp.{verb})")
        p.add_argument("source", help="tracking URI to copy from (folder, file: URI or http(s)://)")
        p.add_argument("--to", required=True, help="tracking URI to copy into")
        p.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
        p.add_argument("--filter", default=None, help="only runs matching this filter (the search language)")
        p.add_argument("--dry-run", action="store_true", help="say what would be copied; write nothing")
        p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
        p.add_argument("--wait", action="store_true", help="wait for a running copy between the same stores")
        p.set_defaults(func=_cmd_copy)

    p = sub.add_parser("spool", help="list data waiting for an MLflow server; --send delivers it")
    p.add_argument("--uri", default=None, help="only this server (default: every spooled server)")
    p.add_argument("--send", action="store_true", help="send it now (litexp.send_spool)")
    p.set_defaults(func=_cmd_spool)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``litexp`` command."""
    from .errors import LitexpError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LitexpError as exc:
        print(f"litexp: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
