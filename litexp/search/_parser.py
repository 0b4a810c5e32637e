"""Filter parser: tokens -> groups -> boolean expression of clauses.

Grammar (after grouping, see :mod:`._grouping`)::

    filter    := or_expr
    or_expr   := and_expr ("OR" and_expr)*                  (OR: litexp)
    and_expr  := "AND"* unary ("AND"* unary)* "AND"*
    unary     := "NOT" unary                                 (NOT: litexp)
               | "(" or_expr ")"                             (grouping: litexp)
               | comparison
               | identifier "IS" ("NULL" | "NOT NULL")
               | identifier ["NOT"] "IN" "(" strings ")"

As in MLflow, ``AND`` may be repeated, may lead or trail, and may even be
left out between two comparisons. ``AND`` binds tighter than ``OR``.
"""

from __future__ import annotations

from typing import List, Optional, Set, Tuple

from ._dialect import RUNS, Dialect
from ._grouping import Comp, Ident, Item, Paren, describe, fail, group
from ._model import EXT_NOT, EXT_OR, EXT_PARENTHESES, PARAM, TAG, AndNode, Clause, Node, NotNode, OrNode, ParsedFilter
from ._tokens import COMPARISON, ERROR, KEYWORD, WS, Token, tokenize

__all__ = ["parse", "sql_token_count", "MAX_FILTER_LENGTH", "MAX_TOKENS"]

#: Longer filters are refused (they cannot be meant, and would only cost time).
MAX_FILTER_LENGTH = 100_000
#: Deepest nesting of NOT and parentheses.
MAX_DEPTH = 100
#: MLflow's SQL parser refuses statements of more tokens.
MAX_TOKENS = 10_000


def _is_kw(item: Optional[Item], word: str) -> bool:
    return isinstance(item, Token) and item.kind == KEYWORD and item.word == word


class _Parser:
    def __init__(self, source: str, dialect: Dialect) -> None:
        self.source = source
        self.dialect = dialect
        self.extensions: Set[str] = set()
        self.clauses: List[Clause] = []
        self.depth = 0

    # ------------------------------------------------------------- structure
    def level(self, items: List[Item], top: bool, closing: Optional[Paren] = None) -> Optional[Node]:
        node, pos = self.or_expr(items, 0, top)
        if pos < len(items):
            raise self.unexpected(items[pos])
        if node is None and closing is not None:
            raise fail(closing.column, "empty parentheses")
        return node

    def or_expr(self, items: List[Item], pos: int, top: bool) -> Tuple[Optional[Node], int]:
        first, pos = self.and_expr(items, pos)
        parts = [first]
        while pos < len(items) and _is_kw(items[pos], "OR"):
            self.extensions.add(EXT_OR)
            or_tok = items[pos]
            if parts[-1] is None:
                raise fail(or_tok.column, "expected a condition before OR")
            part, pos = self.and_expr(items, pos + 1)
            if part is None:
                raise fail(or_tok.column, "expected a condition after OR")
            parts.append(part)
        if len(parts) == 1:
            return parts[0], pos
        return OrNode(tuple(p for p in parts if p is not None)), pos

    def and_expr(self, items: List[Item], pos: int) -> Tuple[Optional[Node], int]:
        terms: List[Node] = []
        while pos < len(items):
            item = items[pos]
            if _is_kw(item, "AND"):
                pos += 1
                continue
            if _is_kw(item, "OR"):
                break
            term, pos = self.unary(items, pos)
            terms.append(term)
        if not terms:
            return None, pos
        if len(terms) == 1:
            return terms[0], pos
        return AndNode(tuple(terms)), pos

    def unary(self, items: List[Item], pos: int) -> Tuple[Node, int]:
        item = items[pos]
        nxt = items[pos + 1] if pos + 1 < len(items) else None
        if _is_kw(item, "NOT"):
            self.extensions.add(EXT_NOT)
            if nxt is None or _is_kw(nxt, "AND") or _is_kw(nxt, "OR"):
                raise fail(item.column, "expected a condition after NOT")
            self.enter(item)
            operand, pos = self.unary(items, pos + 1)
            self.depth -= 1
            return NotNode(operand), pos
        if isinstance(item, Paren):
            self.extensions.add(EXT_PARENTHESES)
            self.enter(item)
            node = self.level(group(item.inner, self.source), top=False, closing=item)
            self.depth -= 1
            assert node is not None
            return node, pos + 1
        if isinstance(item, Comp):
            return self.comparison(item), pos + 1
        if isinstance(item, Ident):
            return self.ident_clause(items, pos)
        raise self.unexpected(item)

    def enter(self, item: Item) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise fail(item.column, f"nesting deeper than {MAX_DEPTH} levels")

    # --------------------------------------------------------------- clauses
    def comparison(self, comp: Comp) -> Clause:
        if not isinstance(comp.left, Ident):
            raise fail(
                comp.column,
                f"expected a name such as metrics.loss before {comp.op.text!r}, "
                f"found {describe(comp.left, self.source)}",
            )
        clause = self.dialect.compare(comp.left, comp.op, comp.right, self.source)
        self.clauses.append(clause)
        return clause

    def ident_clause(self, items: List[Item], pos: int) -> Tuple[Node, int]:
        ident = items[pos]
        assert isinstance(ident, Ident)
        n = len(items)
        second = items[pos + 1] if pos + 1 < n else None
        third = items[pos + 2] if pos + 2 < n else None
        if _is_kw(second, "IS"):
            assert isinstance(second, Token)
            if _is_kw(third, "NULL") or _is_kw(third, "NOT NULL"):
                clause = self.dialect.is_null(ident, _is_kw(third, "NOT NULL"), self.extensions)
                if ident.fused and clause.entity not in (PARAM, TAG):
                    raise self.fused(ident)
                self.clauses.append(clause)
                return clause, pos + 3
            if _is_kw(third, "NOT  NULL"):
                assert isinstance(third, Token)
                raise fail(third.column, "write IS NOT NULL with exactly one space between NOT and NULL")
            raise fail(
                second.column, f"expected NULL or NOT NULL after {ident.text} IS, found {describe(third, self.source)}"
            )
        if ident.fused and (_is_kw(second, "IN") or _is_kw(second, "NOT")):
            raise self.fused(ident)
        negated = _is_kw(second, "NOT") and _is_kw(third, "IN")
        if negated or _is_kw(second, "IN"):
            keyword = third if negated else second
            assert isinstance(keyword, Token)
            at = pos + (3 if negated else 2)
            values = items[at] if at < n else None
            if isinstance(values, Paren):
                clause = self.dialect.in_list(ident, negated, values, self.extensions)
                self.clauses.append(clause)
                return clause, at + 1
            raise fail(
                keyword.column,
                f"expected a list such as ('a', 'b') after {ident.text} "
                f"{'NOT IN' if negated else 'IN'}, found {describe(values, self.source)}",
            )
        if second is None:
            raise fail(ident.end + 1, f"expected a comparison after {ident.text!r}")
        if isinstance(second, Token) and second.kind == ERROR:
            raise self.unexpected(second)
        if isinstance(second, Paren):
            raise fail(second.column, f"unexpected {describe(second, self.source)} after {ident.text!r}")
        if isinstance(second, Token) and second.kind == COMPARISON:
            if isinstance(third, Token) and third.kind == ERROR:
                raise self.unexpected(third)
            raise fail(
                third.column if third is not None else second.end + 1,
                f"expected a value after {ident.text + ' ' + second.text!r}, found {describe(third, self.source)}",
            )
        raise fail(
            second.column, f"expected a comparison operator after {ident.text!r}, found {describe(second, self.source)}"
        )

    def fused(self, ident: Ident) -> Exception:
        return fail(ident.column, f"{ident.text!r} reads as a single name; join conditions with AND")

    def unexpected(self, item: Item) -> Exception:
        if isinstance(item, Token):
            if item.kind == ERROR:
                return fail(item.column, f"{item.reason or 'unexpected text'}: {item.text!r}")
            if item.kind == COMPARISON:
                return fail(item.column, f"{item.text!r} needs a name on its left and a value on its right")
            if _is_kw(item, "OR"):
                return fail(item.column, "expected a condition before OR")
        return fail(
            item.column, f"unexpected {describe(item, self.source)}; expected a condition such as metrics.loss < 0.5"
        )


def sql_token_count(tokens: List[Token]) -> int:
    """How many tokens MLflow's SQL lexer sees (each space is one, ``\\r\\n`` is one)."""
    count = 0
    for tok in tokens:
        count += len(tok.text) - tok.text.count("\r\n") if tok.kind == WS else 1
    return count


def parse(filter_string: Optional[str], dialect: Dialect = RUNS) -> ParsedFilter:
    """Parse and check a filter string; raise ``SearchSyntaxError`` on any mistake."""
    if filter_string is None or filter_string == "":
        return ParsedFilter(source=filter_string or "", root=None)
    if not isinstance(filter_string, str):
        raise fail(1, f"a filter must be a string, got {type(filter_string).__name__}")
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise fail(MAX_FILTER_LENGTH, f"filter longer than {MAX_FILTER_LENGTH} characters")
    tokens = tokenize(filter_string)
    if sql_token_count(tokens) > MAX_TOKENS:
        raise fail(
            1, f"filter too long: more than {MAX_TOKENS} words, symbols and spaces (MLflow's parser refuses it too)"
        )
    if all(tok.kind == WS for tok in tokens):
        raise fail(1, "the filter is only whitespace; pass None or '' to select everything")
    parser = _Parser(filter_string, dialect)
    items = group(tokens, filter_string)
    root = parser.level(items, top=True)
    return ParsedFilter(
        source=filter_string,
        root=root,
        clauses=tuple(parser.clauses),
        extensions=frozenset(parser.extensions),
    )
