"""The verbs between stores: ``ui`` (MLflow's UI on the store), ``push`` / ``pull`` (copy runs),
``spool`` (what waits for an MLflow server)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_format, add_uri, uri_of
from ._output import emit

__all__ = ["register"]


def _cmd_ui(args: argparse.Namespace) -> int:
    from .._ui import ui_main
    from ..store import split_uri

    uri = uri_of(args)
    if split_uri(uri)[0] != "file":
        print(f"{uri} is an MLflow server: its UI is at {uri.rstrip('/')}/ in a browser.")
        return 0
    return ui_main(uri, args.port, args.host)


def _cmd_copy(args: argparse.Namespace) -> int:
    from .._sync import copy_runs
    from ..errors import LockTimeoutError

    here = uri_of(args)
    source, target = (here, args.to) if args.verb == "push" else (args.source, here)
    try:
        report = copy_runs(
            source,
            target,
            args.experiment or None,
            args.filter,
            args.dry_run,
            None if args.quiet else sys.stderr,
            args.wait,
        )
    except LockTimeoutError as exc:  # cron-safe: the copy already running does the work
        print(f"litexp: {exc}", file=sys.stderr)
        return 0
    return 0 if report.ok else 1


def _cmd_spool(args: argparse.Namespace) -> int:
    from .._spool import send_spooled, spool_status

    waiting = spool_status(args.uri)
    rows = [{"tracking_uri": e.tracking_uri, "run_id": e.run_id, "points": e.points, "path": e.path} for e in waiting]
    emit(rows, args.format, args.wide, empty="nothing spooled", columns=["tracking_uri", "run_id", "points", "path"])
    if waiting and args.send:
        delivered = send_spooled(waiting)  # the runs just listed, not read again
        print(f"sent {len(delivered)} run(s), {sum(delivered.values())} points", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add the verbs of this module to the ``litexp`` parser."""
    p = sub.add_parser(
        "ui",
        help="open the store in MLflow's web UI (or print how to)",
        description="Runs `mlflow ui` on a file store when MLflow is installed; "
        "otherwise prints the commands that open it.",
    )
    add_uri(p)
    p.add_argument("--port", type=int, default=5000, help="the port to serve on (default 5000)")
    p.add_argument("--host", default="127.0.0.1", help="the address to serve on (default 127.0.0.1)")
    p.set_defaults(func=_cmd_ui)

    for verb, text in (
        ("push", "copy runs from the store (--uri) to another, usually an MLflow server (litexp.push)"),
        ("pull", "copy runs from another store, usually an MLflow server, into the store (--uri) (litexp.pull)"),
    ):
        p = sub.add_parser(verb, help=text, description=text + ". Runs already there are not copied again.")
        add_uri(p)
        if verb == "push":
            p.add_argument(
                "--to", required=True, metavar="URI", help="the store to copy into (http(s)://, a folder or file: URI)"
            )
        else:
            p.add_argument(
                "--from",
                dest="source",
                required=True,
                metavar="URI",
                help="the store to copy from (http(s)://, a folder or file: URI)",
            )
        p.add_argument("--experiment", action="append", metavar="NAME", help="only this experiment (repeatable)")
        p.add_argument(
            "--filter", default=None, metavar="F", help="only runs matching this filter (the search language)"
        )
        p.add_argument("--dry-run", action="store_true", help="say what would be copied; write nothing")
        p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
        p.add_argument("--wait", action="store_true", help="wait for a copy already running between the same stores")
        p.set_defaults(func=_cmd_copy)

    p = sub.add_parser("spool", help="list data waiting for an MLflow server; --send delivers it (litexp.send_spool)")
    p.add_argument("--uri", default=None, metavar="URI", help="only what waits for this server (default: every server)")
    p.add_argument("--send", action="store_true", help="send it now")
    add_format(p)
    p.set_defaults(func=_cmd_spool)
