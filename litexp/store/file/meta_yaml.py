"""A fast path for the flat ``meta.yaml`` files of the store.

``meta.yaml`` files are flat mappings of simple scalars. Parsing and writing
them with PyYAML costs a few hundred microseconds each, which dominates a
search over thousands of runs. These functions handle exactly the simple cases
(and give the same values PyYAML's safe loader would); anything else returns
None so the caller falls back to PyYAML.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$")
_INT = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
# plain scalars that YAML reads as strings whatever the resolver (no digits first, no specials)
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*(?::[A-Za-z0-9_./@+-]+)*$")
_SPECIAL_WORDS = frozenset(
    w
    for word in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
    for w in (word, word.capitalize(), word.upper())
)


# lowercase hex with at least one letter (run ids): YAML's int, float and timestamp forms
# all need other characters, so PyYAML reads these as strings too
_HEX_WORD = re.compile(r"^[0-9a-f]*[a-f][0-9a-f]*$")


def _plain_ok(text: str) -> bool:
    if _HEX_WORD.match(text):
        return True
    return bool(_PLAIN.match(text)) and text not in _SPECIAL_WORDS and not text.endswith(":")


def _dump_value(value: Any) -> Optional[str]:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is list and not value:
        return "[]"
    if type(value) is str:
        if _plain_ok(value):
            return value
        if value.isprintable() and value == value.strip() and not value.startswith("\ufeff"):
            return "'" + value.replace("'", "''") + "'"
    return None


def dumps(data: Dict[str, Any]) -> Optional[str]:
    """YAML text for a flat mapping of simple scalars (keys sorted), or None."""
    out = []
    for key in sorted(data):
        if not isinstance(key, str) or not _KEY.match(key) or key in _SPECIAL_WORDS:
            return None
        text = _dump_value(data[key])
        if text is None:
            return None
        out.append(f"{key}: {text}\n")
    return "".join(out)


def _load_value(raw: Optional[str]) -> Any:
    """The value of one scalar; raises ValueError when unsure."""
    if raw is None or raw == "" or raw == "null" or raw == "~":
        return None
    if raw[0] == "'":
        if len(raw) < 2 or raw[-1] != "'":
            raise ValueError(raw)
        inner = raw[1:-1]
        if inner.replace("''", "").count("'"):
            raise ValueError(raw)
        return inner.replace("''", "'")
    if raw == "[]":
        return []
    if raw == "true":
        return True
    if raw == "false":
        return False
    if _INT.match(raw):
        return int(raw)
    if _plain_ok(raw):
        return raw
    raise ValueError(raw)


_SEEN: Dict[str, Any] = {}  # line → (key, value) of lines met before (runs repeat most lines)
_SEEN_MAX = 4096


def _parse_line(line: str) -> Any:
    """(key, value) of one line; None when it is not a simple case."""
    if not line.isprintable():  # tabs, \r, NEL, U+2028...: let PyYAML decide
        return None
    match = _LINE.match(line)
    if match is None:
        return None
    key, raw = match.group(1), match.group(2)
    if key in _SPECIAL_WORDS:
        return None
    try:
        value = _load_value(raw)
    except ValueError:
        return None
    if type(value) is list:  # mutable: never shared
        return None if value else (key, None, True)
    return (key, value, False)


def loads(data: bytes) -> Optional[Dict[str, Any]]:
    """The mapping in a flat YAML file, or None when it is not a simple case."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    result: Dict[str, Any] = {}
    seen = _SEEN
    for line in text.split("\n"):
        if not line:
            continue
        parsed = seen.get(line)
        if parsed is None:
            parsed = _parse_line(line)
            if parsed is None:
                return None
            if len(seen) < _SEEN_MAX:
                seen[line] = parsed
        key, value, empty_list = parsed
        if key in result:
            return None
        result[key] = [] if empty_list else value
    return result if result else None
