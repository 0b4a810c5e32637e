"""Grouping of tokens into identifiers, comparisons and parenthesised lists.

MLflow hands a filter to ``sqlparse``, whose grouping passes decide what is a
column name (``metrics.loss``), what is a comparison (``metrics.loss < 1``)
and how neighbouring pieces fuse. MLflow's acceptance, and the meaning of
some odd but accepted filters, follow from those passes. This module
reproduces the passes that matter, in sqlparse's order:

1. parentheses are matched;
2. names joined by dots become one identifier (whitespace around the dots
   is allowed and kept in the identifier's text);
3. an identifier or number followed by ``ASC``/``DESC`` absorbs it, and
   ``x::y`` (a SQL cast) becomes one identifier;
4. ``<operand> <comparison operator> <operand>`` becomes a comparison;
5. an identifier, comparison or number directly followed by an identifier
   fuses with it into one identifier (so ``tags.a = 'x' tags.b IS NULL`` is
   a single ``IS NULL`` test on the tag key ``a = 'x' tags.b``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

from ..errors import SearchSyntaxError
from ._tokens import COMPARISON, DSTRING, FLOAT, HEX, INT, KEYWORD, NAME, ORDER, PUNCT, STRING, WILDCARD, WS, Token

__all__ = ["Ident", "Paren", "Comp", "Item", "group", "fail", "describe", "NON_KEYWORD_NAMES"]

#: Bare words known to be plain names for SQL (not keywords); only these can
#: be fused onto a preceding identifier or comparison.
NON_KEYWORD_NAMES = frozenset(
    {
        "run_id",
        "run_name",
        "user_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "created",
        "Created",
        "name",
        "experiment_id",
        "creation_time",
        "last_update_time",
    }
)


#: MLflow's SQL parser refuses deeper nesting of parentheses.
MAX_NESTING = 100


def fail(column: int, message: str) -> "SearchSyntaxError":
    """Build the error for a problem found at 1-based ``column``."""
    return SearchSyntaxError(f"at column {column}: {message}")


@dataclass
class Ident:
    """A (possibly dotted, quoted or fused) identifier: ``text`` is its exact source text."""

    start: int
    end: int
    text: str
    #: A single unquoted word without dots (``run_id``).
    bare: bool = False
    #: Built by fusing a preceding piece with an identifier (pass 5).
    fused: bool = False

    @property
    def column(self) -> int:
        return self.start + 1


@dataclass
class Paren:
    """``( ... )``: the tokens between the parentheses, and the exact source text."""

    start: int
    end: int
    text: str
    inner: List[Token]

    @property
    def column(self) -> int:
        return self.start + 1


@dataclass
class Comp:
    """``left op right`` as grouped by pass 4 (operands are not checked here)."""

    left: "Item"
    op: Token
    right: "Item"
    start: int
    end: int

    @property
    def column(self) -> int:
        return self.start + 1


Item = Union[Token, Ident, Paren, Comp]


def describe(item: Optional[Item], source: str) -> str:
    """A short quoted excerpt of ``item`` for messages."""
    if item is None:
        return "the end of the filter"
    if isinstance(item, Token):
        text = item.text
    else:
        text = source[item.start : item.end]
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def _match_parens(tokens: Sequence[Token], source: str) -> List[Item]:
    """Pass 1: nest ``( ... )`` and drop whitespace."""
    out: List[Item] = []
    opens: List[int] = []
    for index, tok in enumerate(tokens):
        if tok.kind == PUNCT and tok.text == "(":
            opens.append(index)
            if len(opens) > MAX_NESTING:
                raise fail(tok.column, f"parentheses nested deeper than {MAX_NESTING} levels")
            continue
        if tok.kind == PUNCT and tok.text == ")":
            if not opens:
                raise fail(tok.column, "')' without a matching '('")
            first = opens.pop()
            if not opens:
                open_tok = tokens[first]
                out.append(
                    Paren(open_tok.start, tok.end, source[open_tok.start : tok.end], list(tokens[first + 1 : index]))
                )
            continue
        if not opens and tok.kind != WS:
            out.append(tok)
    if opens:
        raise fail(tokens[opens[-1]].column, "'(' is never closed")
    return out


def _is_kind(item: Optional[Item], *kinds: str) -> bool:
    return isinstance(item, Token) and item.kind in kinds


def _is_dot(item: Optional[Item]) -> bool:
    return isinstance(item, Token) and item.kind == PUNCT and item.text == "."


def _identifiers(items: List[Item], source: str) -> List[Item]:
    """Pass 2: ``name(.name)*`` into :class:`Ident`."""
    out: List[Item] = []
    i = 0
    n = len(items)
    while i < n:
        item = items[i]
        if _is_kind(item, NAME, DSTRING):
            assert isinstance(item, Token)
            start, end = item.start, item.end
            first = item.text[:1]
            bare = item.kind == NAME and (first.isalnum() or first == "_")
            j = i + 1
            while j < n and _is_dot(items[j]):
                nxt = items[j + 1] if j + 1 < n else None
                if _is_kind(nxt, NAME, DSTRING, STRING, WILDCARD):
                    assert isinstance(nxt, Token)
                    end = nxt.end
                    j += 2
                    if nxt.kind == NAME and j < n and isinstance(items[j], Paren):
                        end = items[j].end  # ``name(...)`` is a SQL function call: part of the name
                        j += 1
                else:
                    end = items[j].end
                    j += 1
                bare = False
            out.append(Ident(start, end, source[start:end], bare=bare))
            i = j
            continue
        out.append(item)
        i += 1
    return out


def _orders(items: List[Item], source: str) -> List[Item]:
    """Pass 3: an identifier or number absorbs following ASC/DESC words."""
    out: List[Item] = []
    for item in items:
        if _is_kind(item, ORDER) and out and (isinstance(out[-1], Ident) or _is_kind(out[-1], INT, FLOAT, HEX)):
            prev = out.pop()
            start = prev.start
            out.append(Ident(start, item.end, source[start : item.end]))
            continue
        out.append(item)
    return out


def _casts(items: List[Item], source: str) -> List[Item]:
    """Pass 3b: ``a::b`` (a SQL cast) reads as one identifier spanning both sides."""
    out: List[Item] = []
    i = 0
    n = len(items)
    while i < n:
        item = items[i]
        if isinstance(item, Token) and item.kind == PUNCT and item.text == "::" and out and i + 1 < n:
            prev = out.pop()
            nxt = items[i + 1]
            start = prev.start
            out.append(Ident(start, nxt.end, source[start : nxt.end]))
            i += 2
            continue
        out.append(item)
        i += 1
    return out


def _is_operand(item: Optional[Item]) -> bool:
    if isinstance(item, (Ident, Paren)):
        return True
    if isinstance(item, Token):
        if item.kind in (INT, FLOAT, HEX, STRING):
            return True
        return item.kind == KEYWORD and item.word == "NULL"
    return False


def _comparisons(items: List[Item]) -> List[Item]:
    """Pass 4: ``operand op operand`` into :class:`Comp` (sqlparse's left-to-right scan)."""
    out: List[Item] = []
    last: Optional[Item] = None  # the last item the scan looked at (may sit inside a group)
    i = 0
    n = len(items)
    while i < n:
        item = items[i]
        if _is_kind(item, COMPARISON) and out and _is_operand(last):
            nxt = items[i + 1] if i + 1 < n else None
            if _is_operand(nxt):
                assert isinstance(item, Token) and nxt is not None
                left = out.pop()
                out.append(Comp(left, item, nxt, left.start, nxt.end))
                last = nxt
                i += 2
                continue
        out.append(item)
        last = item
        i += 1
    return out


def _fuse(items: List[Item], source: str) -> List[Item]:
    """Pass 5: a piece directly followed by an identifier fuses with it."""
    out: List[Item] = []
    i = 0
    n = len(items)
    while i < n:
        item = items[i]
        nxt = items[i + 1] if i + 1 < n else None
        fusable = isinstance(item, (Ident, Comp)) or _is_kind(item, INT, FLOAT, HEX)
        if isinstance(item, Paren):
            # A list after IN fuses like in MLflow; a grouping parenthesis
            # (a litexp extension) is followed by an implicit AND instead.
            before = out[-1] if out else None
            fusable = isinstance(before, Token) and before.kind == KEYWORD and before.word == "IN"
        if fusable and isinstance(nxt, Ident):
            if nxt.bare and nxt.text not in NON_KEYWORD_NAMES:
                raise fail(
                    nxt.column, f"unexpected word {nxt.text!r} after {describe(item, source)}; join conditions with AND"
                )
            start = item.start
            out.append(Ident(start, nxt.end, source[start : nxt.end], fused=True))
            i += 2
            continue
        out.append(item)
        i += 1
    return out


def group(tokens: Sequence[Token], source: str) -> List[Item]:
    """Run all passes on one level of tokens (parenthesised groups stay unparsed)."""
    items = _match_parens(tokens, source)
    items = _identifiers(items, source)
    items = _orders(items, source)
    items = _casts(items, source)
    items = _comparisons(items)
    return _fuse(items, source)
