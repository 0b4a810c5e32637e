"""``litexp doctor``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the verb to the parser."""
    p = sub.add_parser("doctor", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("litexp: doctor is not built yet")
