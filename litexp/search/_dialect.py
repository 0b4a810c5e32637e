"""What identifiers mean and which values and comparators each entity takes.

Two dialects exist: runs (``search_runs``) and experiments
(``search_experiments``). They follow MLflow's ``SearchUtils`` and
``SearchExperimentsUtils``, except that every mistake MLflow only notices
while matching a run (a comparator an entity does not support, ``LIKE``
with a list ...) is reported here, while parsing.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Set, Tuple

from ._grouping import Ident, Item, Paren, describe, fail
from ._model import ATTRIBUTE, DATASET, EXT_IN, EXT_IS_NULL, METRIC, PARAM, TAG, Clause
from ._tokens import DSTRING, ERROR, FLOAT, INT, NAME, PUNCT, STRING, WS, Token

__all__ = ["Dialect", "RUNS", "EXPERIMENTS", "strip_quotes", "trim_backticks", "like_regex"]

NUMERIC_COMPARATORS = frozenset({">", ">=", "!=", "=", "<", "<="})
STRING_COMPARATORS = frozenset({"!=", "=", "LIKE", "ILIKE"})
LIST_COMPARATORS = frozenset({"IN", "NOT IN"})
_STRING_PREFIXES = frozenset({"r", "u", "b", "br", "rb", "f", "fr", "rf"})


def _is_quoted(value: str, quote: str) -> bool:
    return len(value) >= 2 and value.startswith(quote) and value.endswith(quote)


def trim_backticks(value: str) -> str:
    """Drop one pair of enclosing backticks, if any."""
    return value[1:-1] if _is_quoted(value, "`") else value


def strip_quotes(value: str) -> Optional[str]:
    """Drop one pair of enclosing single or double quotes; ``None`` when not quoted.

    The inside is kept as written: ``'it''s'`` reads as ``it''s``.
    """
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    return None


def like_regex(pattern: str, ignore_case: bool) -> "re.Pattern[str]":
    """The regular expression MLflow uses for ``LIKE`` (``%`` any run, ``_`` one character)."""
    regex = re.escape(pattern).replace("%", ".*").replace("_", ".")
    if not pattern.startswith("%"):
        regex = "^" + regex
    if not pattern.endswith("%"):
        regex = regex + "$"
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Dialect:
    """The identifier and value rules of one search surface."""

    name: str
    #: entity spelling -> canonical entity
    entities: Dict[str, str]
    #: entity spellings accepted before backticks are removed (``None``: after)
    raw_entities: Optional[FrozenSet[str]]
    filter_attributes: FrozenSet[str]
    order_attributes: FrozenSet[str]
    numeric_attributes: FrozenSet[str]
    list_attributes: FrozenSet[str]
    aliases: Dict[str, str]

    # ------------------------------------------------------------ identifiers
    def resolve(self, text: str, column: int, for_order: bool = False) -> Tuple[str, str]:
        """Split an identifier into (entity, key) like MLflow's ``_get_identifier``.

        The key is returned untranslated (``created`` stays ``created``).
        """
        parts = text.split(".", 1)
        if len(parts) == 1:
            entity, key = ATTRIBUTE, parts[0]
        else:
            raw_entity, key = parts
            if self.raw_entities is not None and raw_entity not in self.raw_entities:
                raise fail(column, f"unknown entity {raw_entity!r}; use one of {', '.join(sorted(self.raw_entities))}")
            name = trim_backticks(raw_entity)
            if name not in self.entities:
                raise fail(column, f"unknown entity {name!r}; use one of {', '.join(sorted(set(self.entities)))}")
            entity = self.entities[name]
        stripped = strip_quotes(key)
        key = trim_backticks(stripped if stripped is not None else key)
        if entity == ATTRIBUTE:
            valid = self.order_attributes if for_order else self.filter_attributes
            if key not in valid:
                raise fail(column, f"unknown attribute {key!r}; valid attributes are {', '.join(sorted(valid))}")
        elif entity == DATASET and key not in ("name", "digest", "context"):
            raise fail(column, f"unknown dataset key {key!r}; use name, digest or context")
        return entity, key

    def translate(self, key: str) -> str:
        """Attribute aliases: ``created`` is ``start_time``, ``run name`` is ``run_name``."""
        return self.aliases.get(key, key)

    # ----------------------------------------------------------------- values
    def _number(self, item: Item, what: str, source: str) -> Tuple[str, str]:
        if isinstance(item, Token) and item.kind in (INT, FLOAT):
            return item.kind, item.text
        raise fail(
            item.column,
            f"expected a number after {what}, found {describe(item, source)} "
            f"(numbers are written without quotes: 1, -2.5, 1e-3)",
        )

    def _string(self, item: Item, what: str, source: str) -> str:
        if isinstance(item, Token) and item.kind == STRING:
            return item.text[1:-1]
        if isinstance(item, Ident):
            value = strip_quotes(item.text)
            if value is not None:
                return value
        raise fail(item.column, f"expected a quoted string after {what}, found {describe(item, source)}")

    def parse_list(self, paren: Paren, what: str) -> Tuple[str, ...]:
        """A parenthesised list of quoted strings, read like Python literals (as MLflow does)."""
        inner = paren.inner
        in_comment = False
        for index, tok in enumerate(inner):
            if in_comment:
                in_comment = not (tok.kind == WS and ("\n" in tok.text or "\r" in tok.text))
                continue
            if tok.kind in (STRING, DSTRING, WS) or (tok.kind == PUNCT and tok.text in ",()"):
                continue
            if tok.kind == ERROR and (tok.text.startswith("#") or tok.text.startswith("--")):
                # a comment: Python's reading of the list decides
                in_comment = tok.text.startswith("#") and not tok.text.endswith(("\n", "\r"))
                continue
            nxt = inner[index + 1] if index + 1 < len(inner) else None
            if (
                tok.kind == NAME
                and tok.text.lower() in _STRING_PREFIXES
                and nxt is not None
                and nxt.kind in (STRING, DSTRING)
                and nxt.start == tok.end
            ):
                continue
            raise fail(tok.column, f"expected a list of quoted strings after {what}, found {tok.text!r}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = ast.literal_eval(paren.text)
        except Exception:
            raise fail(paren.column, f"ill-formed list {paren.text!r} after {what}; write ('a', 'b')") from None
        values = parsed if isinstance(parsed, tuple) else (parsed,)
        if not values:
            raise fail(paren.column, f"empty list after {what}")
        if not all(isinstance(v, str) for v in values):
            raise fail(paren.column, f"the list after {what} must hold quoted strings only, got {paren.text!r}")
        return values

    # ---------------------------------------------------------------- clauses
    def compare(self, left: Ident, op: Token, right: Item, source: str) -> Clause:
        """``<identifier> <op> <value>``."""
        entity, key = self.resolve(left.text, left.column)
        comparator = op.text.upper()
        what = f"{left.text} {op.text}"
        col = left.column
        if entity == METRIC:
            self._check_op(comparator, NUMERIC_COMPARATORS, op, "metrics")
            _, text = self._number(right, repr(what), source)
            return Clause(METRIC, key, comparator, float(text), col)
        if entity in (PARAM, TAG):
            plural = "params" if entity == PARAM else "tags"
            if isinstance(right, Paren):
                raise fail(right.column, f"a list needs IN or NOT IN: write {left.text} IN {right.text}")
            value = self._string(right, repr(what), source)
            self._check_op(comparator, STRING_COMPARATORS, op, plural)
            return self._string_clause(entity, key, comparator, value, col)
        if entity == ATTRIBUTE:
            key_t = self.translate(key)
            if key in self.numeric_attributes or key_t in self.numeric_attributes:
                kind, text = self._number(right, repr(what), source)
                value_n = (int(text) if kind == INT else float(text)) if self.name == "runs" else float(text)
                self._check_op(comparator, NUMERIC_COMPARATORS, op, f"attribute {key!r}")
                return Clause(ATTRIBUTE, key_t, comparator, value_n, col)
            if isinstance(right, Paren):
                return self._list_compare(ATTRIBUTE, key, key_t, comparator, op, right, what)
            value = self._string(right, repr(what), source)
            self._check_op(comparator, STRING_COMPARATORS, op, f"attribute {key!r}")
            return self._string_clause(ATTRIBUTE, key_t, comparator, value, col)
        # datasets
        if isinstance(right, Paren):
            return self._list_compare(DATASET, key, key, comparator, op, right, what)
        value = self._string(right, repr(what), source)
        self._check_op(comparator, STRING_COMPARATORS, op, "datasets")
        return self._string_clause(DATASET, key, comparator, value, col)

    def _list_compare(
        self, entity: str, key: str, key_t: str, comparator: str, op: Token, paren: Paren, what: str
    ) -> Clause:
        if entity == ATTRIBUTE and key not in self.list_attributes:
            raise fail(paren.column, f"only {', '.join(sorted(self.list_attributes))} can be compared with a list")
        values = self.parse_list(paren, repr(what))
        if comparator not in ("=", "!="):
            raise fail(op.column, f"{op.text!r} cannot compare with a list; use IN or NOT IN")
        return Clause(entity, key_t, comparator, values, op.column)

    @staticmethod
    def _check_op(comparator: str, allowed: FrozenSet[str], op: Token, what: str) -> None:
        if comparator not in allowed:
            raise fail(
                op.column, f"{op.text!r} is not a valid comparator for {what}; use one of {', '.join(sorted(allowed))}"
            )

    @staticmethod
    def _string_clause(entity: str, key: str, comparator: str, value: str, column: int) -> Clause:
        pattern = None
        if comparator in ("LIKE", "ILIKE"):
            pattern = like_regex(value, comparator == "ILIKE")
        return Clause(entity, key, comparator, value, column, pattern)

    def in_list(self, left: Ident, negate: bool, paren: Paren, extensions: Set[str]) -> Clause:
        """``<identifier> [NOT] IN (<strings>)``."""
        entity, key = self.resolve(left.text, left.column)
        comparator = "NOT IN" if negate else "IN"
        what = repr(f"{left.text} {comparator}")
        if entity == METRIC:
            raise fail(paren.column, f"metrics cannot be compared with a list ({left.text} {comparator})")
        if entity in (PARAM, TAG):
            extensions.add(EXT_IN)
            return Clause(entity, key, comparator, self.parse_list(paren, what), left.column)
        if entity == ATTRIBUTE:
            key_t = self.translate(key)
            if key in self.numeric_attributes or key_t in self.numeric_attributes:
                raise fail(paren.column, f"attribute {key!r} is a number and cannot be compared with a list")
            if key not in self.list_attributes:
                raise fail(paren.column, f"only {', '.join(sorted(self.list_attributes))} can be compared with a list")
            return Clause(ATTRIBUTE, key_t, comparator, self.parse_list(paren, what), left.column)
        return Clause(DATASET, key, comparator, self.parse_list(paren, what), left.column)

    def is_null(self, left: Ident, negate: bool, extensions: Set[str]) -> Clause:
        """``<identifier> IS [NOT] NULL``."""
        entity, key = self.resolve(left.text, left.column)
        comparator = "IS NOT NULL" if negate else "IS NULL"
        if entity == DATASET:
            raise fail(left.column, f"{comparator} is not supported for datasets")
        if entity in (METRIC, ATTRIBUTE):
            extensions.add(EXT_IS_NULL)
        return Clause(entity, self.translate(key) if entity == ATTRIBUTE else key, comparator, None, left.column)


RUNS = Dialect(
    name="runs",
    entities={
        "metric": METRIC,
        "metrics": METRIC,
        "parameter": PARAM,
        "parameters": PARAM,
        "param": PARAM,
        "params": PARAM,
        "tag": TAG,
        "tags": TAG,
        "attribute": ATTRIBUTE,
        "attributes": ATTRIBUTE,
        "attr": ATTRIBUTE,
        "run": ATTRIBUTE,
        "dataset": DATASET,
        "datasets": DATASET,
    },
    raw_entities=None,
    filter_attributes=frozenset(
        {
            "artifact_uri",
            "end_time",
            "run_id",
            "run_name",
            "start_time",
            "status",
            "user_id",
            "created",
            "Created",
            "run name",
            "Run name",
            "Run Name",
        }
    ),
    order_attributes=frozenset(
        {"artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id", "created", "Created"}
    ),
    numeric_attributes=frozenset({"start_time", "end_time", "created", "Created"}),
    list_attributes=frozenset({"run_id"}),
    aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
)

EXPERIMENTS = Dialect(
    name="experiments",
    entities={"attribute": ATTRIBUTE, "tag": TAG, "tags": TAG},
    raw_entities=frozenset({"attribute", "tag", "tags"}),
    filter_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    order_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    list_attributes=frozenset({"experiment_id"}),
    aliases={},
)
