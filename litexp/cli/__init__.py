"""The ``litexp`` command (also ``python -m litexp``): verbs that mirror library calls.

Every verb takes ``--uri`` (default ``$MLFLOW_TRACKING_URI``, else ``./mlruns``); every verb that
prints records takes ``--format table|csv|tsv|json|markdown`` (and ``--wide``). A
:class:`~litexp.errors.LitexpError` is one line on stderr and exit status 2; a closed pipe ends
quietly with status 0; an output that cannot be written (a full disk) is one line and status 2.

=============  ============================================================================
verb           library call
=============  ============================================================================
experiments    :func:`litexp.tables.experiments`
runs           :func:`litexp.tables.runs` (``search_records``)
show           :func:`litexp.tables.run_details`
diff           :func:`litexp.tables.diff`
history        :func:`litexp.tables.history` (``Recorder.get_metric_history``)
artifacts      :func:`litexp.tables.artifacts` / ``Recorder.download_artifact``
rm / restore   ``Experiment.delete_recorder`` / ``ExpManager.delete_exp`` and their restores
gc             :func:`litexp.gc`
doctor         :func:`litexp.doctor`
report         :func:`litexp.report`
stale          ``Experiment.list_stale_recorders`` / ``ExpManager.end_stale_recorders``
ui             ``mlflow ui`` on the store
push / pull    :func:`litexp.push` / :func:`litexp.pull`
spool          :func:`litexp.send_spool`
=============  ============================================================================
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys
from typing import List, Optional

__all__ = ["main", "build_parser", "VERB_MODULES"]

#: The modules that add verbs, in the order ``litexp --help`` lists them.
VERB_MODULES = ("_browse", "_lifecycle", "_gc", "_doctor", "_report", "_remote")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="litexp",
        description="Look at, compare, report on and repair the runs of a litexp / MLflow store "
        "(an mlruns folder or an MLflow server).",
        epilog="`litexp VERB --help` describes a verb.",
    )
    parser.add_argument("--version", action="version", version=f"litexp {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``litexp`` command; returns the exit status."""
    from ..errors import LitexpError

    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except LitexpError as exc:
        _flush_quietly()
        print(f"litexp: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `litexp runs X | head -1`
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        _flush_quietly()
        print("litexp: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            return 0
        _quiet_stdout()
        if getattr(exc, "filename", None) is None:  # writing stdout: a full disk, a closed terminal
            print(f"litexp: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        else:
            print(f"litexp: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (a message may quote multi-line input)."""
    return re.sub(r"\s*[\r\n]+\s*", " ", str(exc)).strip()


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _quiet_stdout()


def run() -> None:
    """Console-script entry: exit with :func:`main`'s status."""
    sys.exit(main())
