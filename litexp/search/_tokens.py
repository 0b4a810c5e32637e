"""Tokenizer for filter and order_by strings.

MLflow reads a filter with the SQL lexer of ``sqlparse`` and then inspects
the token types. The rules below reproduce that lexer's decisions for every
input: the same regular expressions, tried in the same order at each
position, with the same flags. Token kinds are simplified to what the search
grammar needs; anything the grammar never accepts becomes an ``ERROR`` token
(comments, placeholders, casts, arithmetic operators, stray characters ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Pattern, Tuple

__all__ = [
    "Token",
    "tokenize",
    "WS",
    "ERROR",
    "WILDCARD",
    "NAME",
    "KEYWORD",
    "INT",
    "FLOAT",
    "HEX",
    "STRING",
    "DSTRING",
    "PUNCT",
    "COMPARISON",
    "ORDER",
    "LOGIC_WORDS",
]

WS = "ws"
ERROR = "error"
WILDCARD = "wildcard"
NAME = "name"
KEYWORD = "keyword"
INT = "int"
FLOAT = "float"
HEX = "hex"
STRING = "string"  # single-quoted
DSTRING = "dstring"  # double-quoted (an identifier for SQL, a string for MLflow)
PUNCT = "punct"
COMPARISON = "comparison"
ORDER = "order"

#: Words that are keywords wherever a plain word is read.
LOGIC_WORDS = frozenset({"AND", "OR", "NOT", "IS", "NULL"})

_FLAGS = re.IGNORECASE | re.UNICODE


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind, its exact text and where it starts and ends."""

    kind: str
    text: str
    start: int
    end: int
    #: For ``KEYWORD``: the upper-case keyword (``"NOT NULL"`` keeps one space).
    word: str = ""
    #: Why an ``ERROR`` token is not acceptable (for messages).
    reason: str = ""

    @property
    def column(self) -> int:
        """1-based column of the first character."""
        return self.start + 1


def _keyword_or_name(text: str) -> Tuple[str, str]:
    upper = text.upper()
    if upper in LOGIC_WORDS:
        return KEYWORD, upper
    return NAME, ""


def _function_name(text: str) -> Tuple[str, str]:
    # A word directly followed by "(" is a function name for SQL. The logic
    # words stay keywords so that "NOT(...)" and "AND(...)" group.
    upper = text.upper()
    if upper in ("AND", "OR", "NOT"):
        return KEYWORD, upper
    return ERROR, ""


# (pattern, kind, reason). ``kind`` may be a callable turning the matched
# text into (kind, word). The order is significant: at each position the
# first pattern that matches wins, exactly like sqlparse's lexer.
_RULES: List[Tuple[str, object, str]] = [
    (r"(--|# )\+.*?(\r\n|\r|\n|$)", ERROR, "comments are not allowed"),
    (r"(--|# ).*?(\r\n|\r|\n|$)", ERROR, "comments are not allowed"),
    (r"(\r\n|\r|\n)", WS, ""),
    (r"\s+?", WS, ""),
    (r":=", ERROR, "':=' is not allowed"),
    (r"::", PUNCT, ""),
    (r"\*", WILDCARD, ""),
    (r"`(``|[^`])*`", NAME, ""),
    (r"´(´´|[^´])*´", NAME, ""),
    (r"\?", ERROR, "placeholders are not allowed"),
    (r"%(\(\w+\))?s", ERROR, "placeholders are not allowed"),
    (r"(?<!\w)[$:?]\w+", ERROR, "placeholders are not allowed"),
    (r"\\\w+", ERROR, "backslash commands are not allowed"),
    (r"(CASE|IN|VALUES|USING|FROM|AS)\b", KEYWORD, ""),
    (r"(@|##|#)[A-ZÀ-Ü]\w+", NAME, ""),
    (r"[A-ZÀ-Ü]\w*(?=\s*\.(?!\d))", NAME, ""),
    (r"(?<=\.)[A-ZÀ-Ü]\w*", NAME, ""),
    (r"[A-ZÀ-Ü]\w*(?=\()", _function_name, "function calls are not allowed"),
    (r"-?0x[\dA-F]+", HEX, ""),
    (r"-?\d+(\.\d+)?E-?\d+", FLOAT, ""),
    (r"(?![_A-ZÀ-Ü])-?(\d+(\.\d*)|\.\d+)(?![_A-ZÀ-Ü])", FLOAT, ""),
    (r"(?![_A-ZÀ-Ü])-?\d+(?![_A-ZÀ-Ü])", INT, ""),
    (r"'(''|\\'|[^'])*'", STRING, ""),
    (r'"(""|\\"|[^"])*"', DSTRING, ""),
    (r'(""|".*?[^\\]")', DSTRING, ""),
    (r"(?<![\w\])])(\[[^\]\[]+\])", NAME, ""),
    (r"((LEFT\s+|RIGHT\s+|FULL\s+)?(INNER\s+|OUTER\s+|STRAIGHT\s+)?|(CROSS\s+|NATURAL\s+)?)?JOIN\b", KEYWORD, ""),
    (r"END(\s+IF|\s+LOOP|\s+WHILE|\s+FOR|\s+CASE)?\b", KEYWORD, ""),
    (r"IF\s+(NOT\s+)?EXISTS\b", KEYWORD, ""),
    (r"NOT\s+NULL\b", KEYWORD, ""),
    (r"(ASC|DESC)(\s+NULLS\s+(FIRST|LAST))?\b", ORDER, ""),
    (r"(ASC|DESC)\b", ORDER, ""),
    (r"NULLS\s+(FIRST|LAST)\b", ORDER, ""),
    (r"UNION\s+ALL\b", KEYWORD, ""),
    (r"CREATE(\s+OR\s+REPLACE)?\b", KEYWORD, ""),
    (r"DOUBLE\s+PRECISION\b", ERROR, "type names are not allowed"),
    (r"GROUP\s+BY\b", KEYWORD, ""),
    (r"ORDER\s+BY\b", KEYWORD, ""),
    (r"PRIMARY\s+KEY\b", KEYWORD, ""),
    (r"HANDLER\s+FOR\b", KEYWORD, ""),
    (r"GO(\s\d+)\b", KEYWORD, ""),
    (r"(LATERAL\s+VIEW\s+)(EXPLODE|INLINE|PARSE_URL_TUPLE|POSEXPLODE|STACK)\b", KEYWORD, ""),
    (r"(AT|WITH')\s+TIME\s+ZONE\s+'[^']+'", ERROR, "time zone casts are not allowed"),
    (r"(NOT\s+)?(LIKE|ILIKE|RLIKE)\b", COMPARISON, ""),
    (r"(NOT\s+)?(REGEXP)(\s+(BINARY))?\b", COMPARISON, ""),
    (r"\w[$#\w]*", _keyword_or_name, ""),
    (r"[;:()\[\],\.]", PUNCT, ""),
    (r"(\->>?|#>>?|@>|<@|\?\|?|\?&|\-|#\-)", ERROR, "this operator is not allowed"),
    (r"[<>=~!]+", COMPARISON, ""),
    (r"[+/@#%^&|^-]+", ERROR, "arithmetic is not allowed"),
]

_COMPILED: List[Tuple[Callable[[str, int], Optional["re.Match[str]"]], object, str]] = [
    (re.compile(rx, _FLAGS).match, kind, reason) for rx, kind, reason in _RULES
]
_BLOCK_COMMENT: Pattern[str] = re.compile(r"/\*.*?\*/", re.DOTALL)


def tokenize(text: str) -> List[Token]:
    """Split ``text`` into tokens; whitespace runs become one ``WS`` token each.

    Never raises: characters no rule accepts become ``ERROR`` tokens.
    """
    tokens: List[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        if text.startswith("/*", pos):
            m = _BLOCK_COMMENT.match(text, pos)
            if m is not None:
                tokens.append(Token(ERROR, m.group(), pos, m.end(), reason="comments are not allowed"))
                pos = m.end()
                continue
        if text[pos] == "$":
            tokens.append(Token(ERROR, "$", pos, pos + 1, reason="'$' is not allowed"))
            pos += 1
            continue
        for match, kind, reason in _COMPILED:
            m = match(text, pos)
            if m is None:
                continue
            value = m.group()
            if not value:  # every rule consumes at least one character; be safe anyway
                continue
            word = ""
            if callable(kind):
                kind_s, word = kind(value)
            else:
                kind_s = str(kind)
                if kind_s == KEYWORD:
                    word = value.upper()
                    if word.startswith("NOT") and word.endswith("NULL"):
                        # MLflow compares the raw text with "NOT NULL": other
                        # spacing is kept so that it can be reported.
                        word = "NOT NULL" if value.upper() == "NOT NULL" else "NOT  NULL"
            if kind_s == WS and tokens and tokens[-1].kind == WS:
                prev = tokens.pop()
                tokens.append(Token(WS, prev.text + value, prev.start, m.end()))
            else:
                tokens.append(Token(kind_s, value, pos, m.end(), word=word, reason=reason))
            pos = m.end()
            break
        else:
            tokens.append(Token(ERROR, text[pos], pos, pos + 1, reason=f"unexpected character {text[pos]!r}"))
            pos += 1
    return tokens
