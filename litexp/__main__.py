"""Command line: ``python -m litexp <verb>`` (also installed as ``litexp``)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _cmd_experiments(args: argparse.Namespace) -> int:
    from .manager import FileExpManager

    manager = FileExpManager(args.uri, "Experiment")
    for name, exp in manager.list_experiments().items():
        print(f"{exp.id}\t{name}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from .manager import FileExpManager

    manager = FileExpManager(args.uri, "Experiment")
    exp = manager.get_exp(experiment_name=args.experiment, create=False)
    frame = manager.search_records([exp.id], filter_string=args.filter, max_results=args.max_results)
    print(frame.to_string(index=False) if len(frame) else "no runs")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``litexp`` command."""
    from .errors import LitexpError

    parser = argparse.ArgumentParser(prog="litexp", description="Inspect a litexp / MLflow mlruns store.")
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("experiments", help="list active experiments (like R.list_experiments)")
    p.add_argument("--uri", default="file:./mlruns")
    p.set_defaults(func=_cmd_experiments)
    p = sub.add_parser("runs", help="search the runs of an experiment (like R.search_records)")
    p.add_argument("experiment")
    p.add_argument("--uri", default="file:./mlruns")
    p.add_argument("--filter", default=None)
    p.add_argument("--max-results", type=int, default=None)
    p.set_defaults(func=_cmd_runs)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LitexpError as exc:
        print(f"litexp: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
