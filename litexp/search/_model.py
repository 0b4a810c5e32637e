"""Parsed forms of filters and order_by clauses.

Everything here is immutable and independent of how it was parsed, so a
parsed filter can be cached, compared and evaluated many times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import FrozenSet, Optional, Tuple, Union

__all__ = [
    "METRIC",
    "PARAM",
    "TAG",
    "ATTRIBUTE",
    "DATASET",
    "Clause",
    "AndNode",
    "OrNode",
    "NotNode",
    "Node",
    "ParsedFilter",
    "OrderKey",
    "ParsedOrder",
    "EXT_OR",
    "EXT_NOT",
    "EXT_PARENTHESES",
    "EXT_IS_NULL",
    "EXT_IN",
]

METRIC = "metric"
PARAM = "parameter"
TAG = "tag"
ATTRIBUTE = "attribute"
DATASET = "dataset"

#: Names of the litexp extensions a filter can use (``ParsedFilter.extensions``).
EXT_OR = "OR"
EXT_NOT = "NOT"
EXT_PARENTHESES = "parentheses"
EXT_IS_NULL = "IS NULL on metrics and attributes"
EXT_IN = "IN on params and tags"

Value = Union[None, int, float, str, Tuple[str, ...]]


@dataclass(frozen=True)
class Clause:
    """One comparison: ``<entity>.<key> <comparator> <value>``.

    ``key`` is the key as stored (aliases such as ``created`` are already
    translated); ``comparator`` is upper-case (``=``, ``LIKE``, ``IN``,
    ``IS NULL`` ...); ``value`` is a float for metrics, an int or float for
    numeric attributes, a string, a tuple of strings for lists, or ``None``
    for ``IS [NOT] NULL``. ``pattern`` is the compiled LIKE/ILIKE pattern.
    """

    entity: str
    key: str
    comparator: str
    value: Value
    column: int = 1
    pattern: Optional["re.Pattern[str]"] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AndNode:
    """True when every item is true (an empty AND is true)."""

    items: Tuple["Node", ...]


@dataclass(frozen=True)
class OrNode:
    """True when any item is true (litexp extension)."""

    items: Tuple["Node", ...]


@dataclass(frozen=True)
class NotNode:
    """True when the item is false (litexp extension)."""

    item: "Node"


Node = Union[Clause, AndNode, OrNode, NotNode]


@dataclass(frozen=True)
class ParsedFilter:
    """A checked filter: evaluate it with :func:`litexp.search.match_run`.

    ``root`` is ``None`` when the filter selects everything. ``clauses`` lists
    every comparison in reading order. ``extensions`` names the litexp-only
    features the filter uses (empty for a filter in MLflow's grammar).
    """

    source: str
    root: Optional[Node]
    clauses: Tuple[Clause, ...] = ()
    extensions: FrozenSet[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when the filter selects every run."""
        return self.root is None


@dataclass(frozen=True)
class OrderKey:
    """One order_by item: entity, key (aliases translated) and direction."""

    entity: str
    key: str
    ascending: bool
    source: str = ""


@dataclass(frozen=True)
class ParsedOrder:
    """A checked order_by list, in priority order (first key sorts first)."""

    keys: Tuple[OrderKey, ...] = ()
