"""Page tokens, page slicing and run view types.

A page token is MLflow's: base64 of the JSON ``{"offset": N}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, List, Optional, Sequence, Tuple, TypeVar

from ..errors import InvalidInputError, SearchSyntaxError
from ..records import ViewType

__all__ = ["parse_page_token", "make_page_token", "paginate", "parse_view_type", "check_max_results"]

T = TypeVar("T")

_VIEW_NAMES = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY, "ALL": ViewType.ALL}


def make_page_token(offset: int) -> str:
    """The token that resumes a search at ``offset``."""
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def parse_page_token(page_token: Optional[Any]) -> int:
    """The offset a page token stands for (0 for no token)."""
    if not page_token:
        return 0
    if not isinstance(page_token, (str, bytes)):
        raise SearchSyntaxError(f"invalid page token {page_token!r}: expected a string")
    try:
        decoded = base64.b64decode(page_token)
    except (binascii.Error, ValueError, TypeError):
        raise SearchSyntaxError(f"invalid page token {page_token!r}: not base64") from None
    try:
        parsed = json.loads(decoded)
    except ValueError:
        raise SearchSyntaxError(f"invalid page token {page_token!r}: not JSON") from None
    if not isinstance(parsed, dict):
        raise SearchSyntaxError(f'invalid page token {page_token!r}: expected {{"offset": N}}')
    offset = parsed.get("offset")
    if not offset:
        raise SearchSyntaxError(f"invalid page token {page_token!r}: no offset")
    try:
        value = int(offset)
    except (TypeError, ValueError, OverflowError):
        raise SearchSyntaxError(f"invalid page token {page_token!r}: offset {offset!r} is not a number") from None
    if value < 0:
        raise SearchSyntaxError(f"invalid page token {page_token!r}: negative offset")
    return value


def check_max_results(max_results: Optional[Any]) -> Optional[int]:
    """``None`` (everything) or a non-negative int."""
    if max_results is None:
        return None
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0:
        raise InvalidInputError(f"max_results must be a non-negative integer or None, got {max_results!r}.")
    assert isinstance(max_results, int)
    return max_results


def paginate(rows: Sequence[T], page_token: Optional[Any], max_results: Optional[int]) -> Tuple[List[T], Optional[str]]:
    """Slice one page; the next token is given only when rows remain after it."""
    start = parse_page_token(page_token)
    if max_results is None:
        return list(rows[start:]), None
    end = start + max_results
    token = make_page_token(end) if end < len(rows) else None
    return list(rows[start:end]), token


def parse_view_type(run_view_type: Optional[Any]) -> int:
    """1 (ACTIVE_ONLY, the default), 2 (DELETED_ONLY) or 3 (ALL), from an int or a name."""
    if run_view_type is None:
        return ViewType.ACTIVE_ONLY
    if isinstance(run_view_type, bool):
        raise SearchSyntaxError(
            f"invalid run_view_type {run_view_type!r}; use 1, 2, 3 or ACTIVE_ONLY, DELETED_ONLY, ALL"
        )
    if isinstance(run_view_type, int):
        if run_view_type in (1, 2, 3):
            return run_view_type
    elif isinstance(run_view_type, str):
        name = run_view_type.strip().upper()
        if name in _VIEW_NAMES:
            return _VIEW_NAMES[name]
        if name in ("1", "2", "3"):
            return int(name)
    raise SearchSyntaxError(f"invalid run_view_type {run_view_type!r}; use 1, 2, 3 or ACTIVE_ONLY, DELETED_ONLY, ALL")
