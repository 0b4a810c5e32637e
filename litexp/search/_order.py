"""order_by: parsing and sorting, as MLflow does it.

An order_by item is ``<identifier> [ASC|DESC]``. MLflow reads it with
sqlparse (the whole item must be one identifier, so no leading or trailing
spaces) and then splits it with :func:`shlex.split` after turning backticks
into double quotes; both steps are reproduced here.

Runs are first sorted by ``start_time`` DESC then ``run_id`` ASC; each
order_by key is then applied as a stable sort, last key first. For every
key, missing values and NaN go last in both directions, NaN before missing.
"""

from __future__ import annotations

import math
import shlex
from functools import partial
from typing import Any, List, Optional, Sequence, Tuple

from ..records import ExperimentRecord, RunRecord
from ._dialect import EXPERIMENTS, RUNS, Dialect
from ._grouping import Ident, describe, fail, group
from ._match import run_attribute
from ._model import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, OrderKey, ParsedOrder
from ._parser import MAX_TOKENS, sql_token_count
from ._tokens import WS, tokenize

__all__ = ["parse_order", "parse_order_item", "sort_runs", "sort_experiments", "DEFAULT_EXPERIMENT_ORDER"]

DEFAULT_EXPERIMENT_ORDER = ("creation_time DESC", "experiment_id ASC")


def parse_order_item(text: Any, dialect: Dialect = RUNS) -> OrderKey:
    """Parse one ``"<identifier> [ASC|DESC]"`` item."""
    if not isinstance(text, str):
        raise fail(1, f"an order_by item must be a string, got {text!r}")
    where = f"in order_by item {text!r}"
    tokens = tokenize(text)
    if not tokens:
        raise fail(1, f"empty order_by item {text!r}")
    if sql_token_count(tokens) > MAX_TOKENS:
        raise fail(1, f"order_by item longer than {MAX_TOKENS} words, symbols and spaces")
    if tokens[0].kind == WS or tokens[-1].kind == WS:
        raise fail(1 if tokens[0].kind == WS else tokens[-1].column, f"leading or trailing whitespace {where}")
    items = group(tokens, text)
    if len(items) != 1 or not isinstance(items[0], Ident):
        bad = items[1] if len(items) > 1 and isinstance(items[0], Ident) else items[0]
        raise fail(
            bad.column,
            f"unexpected {describe(bad, text)} {where}; write '<name> [ASC|DESC]' such as 'metrics.loss DESC'",
        )
    token_value = items[0].text
    try:
        words = shlex.split(token_value.replace("`", '"'))
    except ValueError as exc:
        raise fail(1, f"cannot read {where}: {exc}") from None
    ascending = True
    if len(words) > 2:
        raise fail(1, f"too many words {where}; write '<name> [ASC|DESC]'")
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise fail(1, f"invalid direction {words[1]!r} {where}; use ASC or DESC")
        ascending = direction == "asc"
        token_value = words[0]
    entity, key = dialect.resolve(token_value.strip(), 1, for_order=True)
    if entity == DATASET:
        raise fail(1, f"datasets cannot be used to order runs ({text!r})")
    if dialect is EXPERIMENTS and entity != ATTRIBUTE:
        raise fail(1, f"experiments can only be ordered by attributes, not by {entity}s ({text!r})")
    if entity == ATTRIBUTE:
        key = dialect.translate(key)
    return OrderKey(entity, key, ascending, text)


def parse_order(order_by: Optional[Sequence[str]], dialect: Dialect = RUNS) -> ParsedOrder:
    """Parse a list of order_by items (``None`` or empty: the default order)."""
    if order_by is None:
        return ParsedOrder(())
    if isinstance(order_by, str):
        raise fail(1, f"order_by must be a list of strings, got the string {order_by!r}")
    try:
        items = list(order_by)
    except TypeError:
        raise fail(1, f"order_by must be a list of strings, got {order_by!r}") from None
    return ParsedOrder(tuple(parse_order_item(item, dialect) for item in items))


def _run_sort_value(record: RunRecord, key: OrderKey) -> Tuple[bool, Any]:
    value: Any
    if key.entity == METRIC:
        value = record.metrics.get(key.key)
    elif key.entity == PARAM:
        value = record.params.get(key.key)
    elif key.entity == TAG:
        value = record.tags.get(key.key)
    else:
        value = run_attribute(record, key.key)
    is_none = value is None
    is_nan = isinstance(value, float) and math.isnan(value)
    fill = (1 if key.ascending else -1) * math.inf
    if is_none:
        value = fill
    elif is_nan:
        value = -fill
    missing = is_none or is_nan
    return (missing, value) if key.ascending else (not missing, value)


def _default_run_key(record: RunRecord) -> Tuple[float, str]:
    start = record.start_time
    return (-start if start is not None else math.inf, record.run_id)


def sort_runs(records: Sequence[RunRecord], order: ParsedOrder) -> List[RunRecord]:
    """Order runs like MLflow's ``SearchUtils.sort``."""
    runs = sorted(records, key=_default_run_key)
    for key in reversed(order.keys):
        runs = sorted(runs, key=partial(_run_sort_value, key=key), reverse=not key.ascending)
    return runs


class _Sorter:
    """Sort wrapper putting ``None`` last in both directions (MLflow's experiment sort)."""

    __slots__ = ("obj", "ascending")

    def __init__(self, obj: Any, ascending: bool) -> None:
        self.obj = obj
        self.ascending = ascending

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Sorter) and other.obj == self.obj

    def __lt__(self, other: "_Sorter") -> bool:
        if self.obj is None:
            return False
        if other.obj is None:
            return True
        if self.ascending:
            return bool(self.obj < other.obj)
        return bool(other.obj < self.obj)

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose (it defines __eq__); object's is a method


def sort_experiments(records: Sequence[ExperimentRecord], order: ParsedOrder) -> List[ExperimentRecord]:
    """Order experiments like MLflow's ``SearchExperimentsUtils.sort``.

    An empty order means ``creation_time DESC, experiment_id ASC``; otherwise
    ``experiment_id DESC`` breaks ties unless experiment_id is already a key.
    """
    keys = list(order.keys) or [parse_order_item(item, EXPERIMENTS) for item in DEFAULT_EXPERIMENT_ORDER]
    pairs = [(k.key, k.ascending) for k in keys]
    if not any(name == "experiment_id" for name, _ in pairs):
        pairs.append(("experiment_id", False))
    return sorted(records, key=lambda e: tuple(_Sorter(getattr(e, name), asc) for name, asc in pairs))
