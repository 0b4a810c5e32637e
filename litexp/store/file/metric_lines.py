"""The metric file format: one ``"{timestamp} {value} {step}\\n"`` line per point."""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Iterable, List, Optional, Tuple

Point = Tuple[int, float, int]  # (timestamp, value, step)


def format_lines(points: Iterable[Point]) -> bytes:
    """Metric lines as MLflow writes them (``repr`` of the float value)."""
    return "".join(f"{ts} {val!r} {step}\n" for ts, val, step in points).encode("ascii")


def parse_line(line: str) -> Point:
    """Parse one line; 2-field (no step) and 5-field (dataset) lines are read as MLflow does.

    Raises ValueError for anything else.
    """
    parts = line.strip().split(" ")
    n = len(parts)
    if n not in (2, 3, 5):
        raise ValueError(f"{n} fields")
    ts = int(parts[0])
    value = float(parts[1])
    # MLflow reads the step only from 3-field lines; 2- and 5-field lines get step 0.
    step = int(parts[2]) if n == 3 else 0
    return ts, value, step


_PLAIN_LINES = re.compile(r"(?:[^ \n]+ [^ \n]+ [^ \n]+\n)*")


def _plain_tokens(data: bytes) -> Optional[List[str]]:
    """The tokens of ``data`` when every line has exactly three single-space separated fields."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not _PLAIN_LINES.fullmatch(text):
        return None
    return text.split()


def _parse_plain(data: bytes) -> Optional[List[Point]]:
    """Fast path: every line is ``int value int``. None when any line is not."""
    tokens = _plain_tokens(data)
    if tokens is None:
        return None
    try:
        return list(zip(map(int, tokens[0::3]), map(float, tokens[1::3]), map(int, tokens[2::3])))
    except ValueError:
        return None


def scan_latest(data: bytes, prior: Optional[Point] = None) -> Tuple[Optional[Point], int]:
    """The latest point of ``prior`` followed by the whole lines of ``data``, and how many
    lines were skipped. Same result as :func:`latest` over every point, but only the
    steps of all lines and the other fields of the lines at the greatest step are parsed."""
    tokens = _plain_tokens(data)
    if tokens is not None:
        try:
            steps = list(map(int, tokens[2::3]))
            if not steps:
                return prior, 0
            top = max(steps)
            if prior is not None and prior[2] > top:
                return prior, 0
            # only points at the greatest step can be the latest; among them, file order decides ties
            rows = [i for i, step in enumerate(steps) if step == top]
            found = [(int(tokens[3 * i]), float(tokens[3 * i + 1]), top) for i in rows]
        except ValueError:
            pass
        else:
            if prior is not None and prior[2] == top:
                found.insert(0, prior)
            return latest(found), 0
    points, skipped = parse_history(data)
    return latest(([prior] if prior is not None else []) + points), skipped


def parse_history(data: bytes) -> Tuple[List[Point], int]:
    """Parse a whole metric file. Returns the points and how many lines were skipped.

    A torn last line (no trailing newline, as left by a killed writer) and lines
    that do not parse are skipped.
    """
    if data.endswith(b"\n") or not data:
        fast = _parse_plain(data)
        if fast is not None:
            return fast, 0
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    skipped = 0
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # a last line without newline is torn
        skipped += 1
    points: List[Point] = []
    for line in lines:
        try:
            points.append(parse_line(line))
        except ValueError:
            skipped += 1
    return points, skipped


def latest(points: List[Point]) -> Optional[Point]:
    """The point MLflow shows as latest: greatest ``(step, timestamp, value)``, the first
    of equals (Python's ``max``, as MLflow uses it, NaN comparisons included)."""
    if not points:
        return None
    best = max(zip(map(itemgetter(2), points), map(itemgetter(0), points), map(itemgetter(1), points)))
    return best[1], best[2], best[0]


def without_repeats(points: List[Point], last_line: Optional[bytes]) -> List[Point]:
    """Drop points identical (timestamp, value, step) to an earlier one of the batch or to
    the file's last line. They carry nothing new, and MLflow's SQLite migration refuses them."""
    seen = set()
    if last_line:
        try:
            ts, val, step = parse_line(last_line.decode("ascii"))
            seen.add((ts, repr(val), step))
        except (ValueError, UnicodeDecodeError):
            pass
    out = []
    for ts, val, step in points:
        key = (ts, repr(val), step)
        if key not in seen:
            seen.add(key)
            out.append((ts, val, step))
    return out
