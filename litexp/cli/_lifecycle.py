"""``litexp rm`` / ``restore`` / ``stale``."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the verbs to the parser."""
