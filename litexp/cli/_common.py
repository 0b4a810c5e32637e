"""What the verbs share: the ``--uri`` option, ``--format``/``--wide``, ``--view``, opening a store."""

from __future__ import annotations

import argparse
from typing import Any

from ..tables import VIEWS, default_uri, open_manager
from ._output import FORMATS

__all__ = ["add_uri", "add_format", "add_view", "uri_of", "manager"]


def add_uri(parser: argparse.ArgumentParser) -> None:
    """``--uri``: the store every verb works on."""
    parser.add_argument(
        "--uri",
        default=None,
        metavar="URI",
        help="the store: an mlruns folder, a file: URI or an MLflow server "
        "(http(s)://host:port); default $MLFLOW_TRACKING_URI, else ./mlruns",
    )


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--wide``, for a verb that prints records."""
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: a table that fits the terminal)"
    )
    parser.add_argument("--wide", action="store_true", help="in a table, print every column and cell in full")


def add_view(parser: argparse.ArgumentParser, what: str) -> None:
    """``--view active|deleted|all``."""
    parser.add_argument(
        "--view",
        choices=tuple(VIEWS),
        default="active",
        type=str.lower,
        help=f"which {what}: active (default), deleted or all",
    )


def uri_of(args: argparse.Namespace) -> str:
    """``--uri``, else the default store."""
    return getattr(args, "uri", None) or default_uri()


def manager(args: argparse.Namespace) -> Any:
    """The :class:`~litexp.ExpManager` of ``--uri`` (it must exist: nothing is created)."""
    return open_manager(uri_of(args))
