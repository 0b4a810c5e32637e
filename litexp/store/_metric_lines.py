"""The metric file format: one ``"{timestamp} {value} {step}\\n"`` line per point."""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

Point = Tuple[int, float, int]  # (timestamp, value, step)


def format_line(timestamp: int, value: float, step: int) -> str:
    """One metric line as MLflow writes it (``repr`` of the float value)."""
    return f"{timestamp} {value!r} {step}\n"


def format_lines(points: Iterable[Point]) -> bytes:
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


def parse_history(data: bytes) -> Tuple[List[Point], int]:
    """Parse a whole metric file. Returns the points and how many lines were skipped.

    A torn last line (no trailing newline, as left by a killed writer) and lines
    that do not parse are skipped.
    """
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
    """The point MLflow shows as latest: greatest ``(step, timestamp, value)``."""
    if not points:
        return None
    return max(points, key=lambda p: (p[2], p[0], p[1]))


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
