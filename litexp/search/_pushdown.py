"""The part of a filter a tracking server can apply itself, in MLflow's grammar.

A remote store sends it with its search so that fewer runs come back; the
full filter is still applied to what comes back, so the part sent only has
to keep every run the full filter keeps. Only top-level ``AND`` comparisons
whose meaning is the same on MLflow's SQL stores are sent: metric ``!=``
(a NaN metric is stored as 0 there), ``ILIKE`` (SQL folds only ASCII case),
``LIKE`` patterns not ending in ``%`` (a final newline), litexp's extensions and
values that would need escaping stay on the client.
"""

from __future__ import annotations

import math
from typing import List, Optional

from ._model import ATTRIBUTE, METRIC, PARAM, TAG, AndNode, Clause, ParsedFilter

_PREFIX = {METRIC: "metrics", PARAM: "params", TAG: "tags", ATTRIBUTE: "attributes"}
_METRIC_OPS = frozenset({"=", ">", ">=", "<", "<="})
_STRING_OPS = frozenset({"=", "!=", "LIKE"})


def _number(value: float) -> str:
    """MLflow's parser takes ``1e20`` but not ``1e+20``."""
    return repr(value).replace("e+", "e")


def _quote(value: str) -> Optional[str]:
    if "\\" in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def _render(clause: Clause) -> Optional[str]:
    if clause.entity not in _PREFIX or "`" in clause.key:
        return None
    if clause.entity == ATTRIBUTE and clause.key != "status":
        return None
    name = f"{_PREFIX[clause.entity]}.`{clause.key}`"
    if clause.entity == METRIC:
        value = clause.value
        if clause.comparator not in _METRIC_OPS or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        return f"{name} {clause.comparator} {_number(float(value))}"
    if clause.comparator not in _STRING_OPS or not isinstance(clause.value, str):
        return None
    if clause.comparator == "LIKE" and not clause.value.endswith("%"):
        return None  # 'abc' matches 'abc\n' here ($ before a final newline), not in SQL
    quoted = _quote(clause.value)
    return None if quoted is None else f"{name} {clause.comparator} {quoted}"


def server_filter(parsed: ParsedFilter) -> Optional[str]:
    """The MLflow filter string a server may apply first, or None when nothing can be sent."""
    root = parsed.root
    if root is None:
        return None
    items = root.items if isinstance(root, AndNode) else (root,)
    parts: List[str] = []
    for item in items:
        if isinstance(item, Clause):
            text = _render(item)
            if text is not None:
                parts.append(text)
    return " AND ".join(parts) or None
