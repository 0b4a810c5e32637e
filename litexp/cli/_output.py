"""Printing records: one ``--format`` for every verb that prints a table, and progress lines.

Formats: ``table`` (fits the terminal: ids shortened, long cells cut, columns that do not fit
left out and counted; ``--wide`` prints everything), ``csv``, ``tsv``, ``json`` (a list of flat
objects keyed by column name, JSON numbers, ISO-8601 times, ``null`` for a missing value or NaN,
``"Infinity"`` / ``"-Infinity"`` for infinite metrics) and ``markdown`` (a GitHub table).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import re
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

__all__ = ["FORMATS", "Table", "as_table", "render", "emit", "Progress", "terminal_width"]

FORMATS = ("table", "csv", "tsv", "json", "markdown")
#: Columns whose values are ids: shortened to this many characters in a table that must fit.
ID_COLUMNS = ("run_id", "tags.mlflow.parentRunId")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
SHORT_ID = 8
MIN_CELL = 8
#: Text is not cut below this many characters (or its own length) while columns can be left out.
TEXT_FLOOR = 20
ELLIPSIS = "…"
DEFAULT_WIDTH = 120


class Table:
    """Rows of cells under named columns: what every verb prints."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]

    def __len__(self) -> int:
        return len(self.rows)


def as_table(data: Any, columns: Optional[Sequence[str]] = None) -> Table:
    """A :class:`Table` from a DataFrame, a list of dicts (keys in first-seen order) or a Table."""
    if isinstance(data, Table):
        return data
    if hasattr(data, "itertuples") and hasattr(data, "columns"):  # a pandas DataFrame
        names = [str(c) for c in data.columns]
        return Table(names, [list(row) for row in data.itertuples(index=False, name=None)])
    rows = list(data)
    if columns is None:
        seen: Dict[str, None] = {}
        for row in rows:
            for key in row:
                seen.setdefault(key, None)
        columns = list(seen)
    return Table(columns, [[row.get(c) for c in columns] for row in rows])


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:  # pandas' NaT and NA
        import pandas as pd

        return value is pd.NaT or value is pd.NA
    except ImportError:  # pragma: no cover
        return False


def _iso(value: Any) -> Optional[str]:
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if hasattr(value, "isoformat") and hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return str(value.isoformat())
    return None


def json_value(value: Any) -> Any:
    """A cell as a JSON value."""
    if _missing(value):
        return None
    iso = _iso(value)
    if iso is not None:
        return iso
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (int, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def text_value(value: Any, short: bool = False) -> str:
    """A cell as text: empty when missing, ISO-8601 times, floats exact (``repr``); ``short``
    (a table that must fit): times to the second in UTC, floats to 6 significant digits."""
    if _missing(value):
        return ""
    if short and isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    iso = _iso(value)
    if iso is not None:
        return iso
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}" if short else repr(value)
    return str(value)


def terminal_width() -> int:
    """The width to fit: ``COLUMNS``, else stdout's terminal, else stderr's (piped into a pager)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    for stream in (sys.stdout, sys.stderr):
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            continue
    return DEFAULT_WIDTH


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


GROUP_ABBREVIATIONS = {"metrics.": "m.", "params.": "p.", "tags.": "t."}


def _cut_head(name: str, width: int) -> str:
    """A header cut to ``width``: ``metrics.ic`` becomes ``m.ic``, then keeps the key's end."""
    if len(name) <= width:
        return name
    for prefix, short in GROUP_ABBREVIATIONS.items():
        if name.startswith(prefix):
            name = short + name[len(prefix) :]
            if len(name) <= width:
                return name
            return ELLIPSIS + name[len(name) - width + 1 :] if width > 1 else ELLIPSIS
    return _cut(name, width)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _is_text(values: Sequence[Any]) -> bool:
    """Whether a column holds text (cut to fit) rather than numbers and times (never cut)."""
    return any(isinstance(v, str) for v in values if not _missing(v))


def _fit(natural: List[int], floors: List[int], width: int) -> Tuple[List[int], int]:
    """Column widths and how many columns are shown so a line fits ``width``: as many columns as
    fit at their floors, then text columns cut (widest first, not below their floor)."""
    shown, used = 0, -2
    for floor in floors:
        if shown and used + 2 + floor > width:
            break
        used += 2 + floor
        shown += 1
    widths = list(natural[:shown])
    excess = sum(widths) + 2 * (shown - 1) - width
    while excess > 0:
        cuttable = [j for j in range(shown) if widths[j] > floors[j]]
        if not cuttable:
            break
        j = max(cuttable, key=widths.__getitem__)
        level = max([floors[j]] + [widths[k] for k in cuttable if k != j])
        step = max(1, min(excess, widths[j] - level))
        widths[j] -= step
        excess -= step
    return widths, shown


def _table_text(table: Table, width: Optional[int]) -> str:
    """Aligned columns; with a width, shortened ids, cut text and the columns that fit."""
    if not table.columns:
        return ""
    short = width is not None
    cells = [[_one_line(text_value(v, short=short)) for v in row] for row in table.rows]
    heads = list(table.columns)
    if short:
        for j, name in enumerate(heads):
            if name in ID_COLUMNS or name.endswith("run_id"):
                for row in cells:
                    if _RUN_ID.fullmatch(row[j]):
                        row[j] = row[j][:SHORT_ID]
    values = [max([0] + [len(r[j]) for r in cells]) for j in range(len(heads))]
    natural = [max(len(h), v) for h, v in zip(heads, values)]
    shown = len(heads)
    widths = natural
    if width is not None:
        # numbers, times and ids are never cut (a cut number reads as another number); their
        # headers may be, down to the values' width
        floors = []
        for j in range(len(heads)):
            column = [row[j] for row in table.rows]
            floors.append(
                min(natural[j], max(MIN_CELL, min(values[j], TEXT_FLOOR)))
                if _is_text(column) and heads[j] not in ID_COLUMNS
                else max(values[j], min(len(heads[j]), 4))
            )
        widths, shown = _fit(natural, floors, width)
    lines = ["  ".join(_cut_head(h, widths[j]).ljust(widths[j]) for j, h in enumerate(heads[:shown])).rstrip()]
    for row in cells:
        lines.append("  ".join(_cut(c, widths[j]).ljust(widths[j]) for j, c in enumerate(row[:shown])).rstrip())
    if shown < len(heads):
        left = heads[shown:]
        lines.append(
            f"({len(left)} more column{'s' if len(left) > 1 else ''}: {', '.join(left[:5])}"
            f"{', …' if len(left) > 5 else ''}; --wide shows all, --columns chooses)"
        )
    return "\n".join(lines) + "\n"


def _markdown(table: Table) -> str:
    def cell(value: Any) -> str:
        return _one_line(text_value(value)).replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(c) for c in table.columns) + " |",
        "| " + " | ".join("---" for _ in table.columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def render(
    data: Any,
    fmt: str = "table",
    wide: bool = False,
    width: Optional[int] = None,
    empty: str = "",
    columns: Optional[Sequence[str]] = None,
) -> str:
    """The text of ``data`` (DataFrame, list of dicts or :class:`Table`) in ``fmt``; ``columns``
    names (and orders) a list of dicts' columns, so that no rows still prints a header."""
    table = as_table(data, columns)
    if fmt == "json":
        return (
            json.dumps(
                [{c: json_value(v) for c, v in zip(table.columns, row)} for row in table.rows],
                indent=2,
                ensure_ascii=False,
                allow_nan=False,
            )
            + "\n"
        )
    if fmt in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([text_value(v) for v in row])
        return buffer.getvalue()
    if fmt == "markdown":
        return _markdown(table)
    if not table.rows and empty:
        return empty + "\n"
    return _table_text(table, None if wide else (width or terminal_width()))


def emit(
    data: Any,
    fmt: str = "table",
    wide: bool = False,
    empty: str = "",
    out: Optional[TextIO] = None,
    columns: Optional[Sequence[str]] = None,
) -> None:
    """Print ``data`` to stdout in ``fmt`` (``empty`` is printed for a table with no rows; CSV,
    TSV and markdown keep their header, from ``columns`` for a list of dicts)."""
    (out or sys.stdout).write(render(data, fmt, wide, empty=empty, columns=columns))


class Progress:
    """A progress line on stderr while a long verb works, only when stderr is a terminal.

    Call it with ``(done, total)``; it redraws at most ten times a second and clears its line
    when closed. Library functions take it as their ``progress`` callback.
    """

    def __init__(self, label: str, stream: Optional[TextIO] = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: Optional[int] = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        text = f"{self.label}: {done}" + (f"/{total}" if total else "")
        self.stream.write("\r" + text[: shutil.get_terminal_size((80, 24)).columns - 1] + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
