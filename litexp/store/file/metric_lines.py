"""The metric file format: one ``"{timestamp} {value} {step}\\n"`` line per point."""

from __future__ import annotations

import re
import sys
import threading
from functools import lru_cache
from operator import itemgetter
from typing import Any, Dict, Iterable, List, Optional, Tuple

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


# fields without whitespace (a tab inside one would shift the tokens of str.split)
_PLAIN_LINES = re.compile(r"(?:\S+ \S+ \S+\r?\n)*")


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
    """The latest point of ``prior`` followed by the lines of ``data``, and how many lines
    were skipped: the same as :func:`latest` over ``prior`` and every point
    :func:`parse_line` reads from the lines of ``data`` (a torn last line is skipped).

    Large inputs are checked with numpy (:func:`_scan_numpy`), small ones with a regular
    expression: only the lines at the greatest step, and lines of an unusual shape, are
    parsed one by one."""
    if len(data) >= _NUMPY_MIN and data.endswith(b"\n"):
        np = _numpy()
        if np is not None:
            return _scan_numpy(np, data, prior)
    elif _SIMPLE_LINES.fullmatch(data):
        # every line is "<digits> <float> <digits>": only steps, then the lines at the top one
        tokens = data.split()
        steps = list(map(int, tokens[2::3]))
        if not steps:
            return prior, 0
        top = max(steps)
        points = [(int(tokens[3 * i]), float(tokens[3 * i + 1]), top) for i, step in enumerate(steps) if step == top]
        return latest(([prior] if prior is not None else []) + points), 0
    return _scan_exact(data, prior)


# lines that surely parse: a float as repr() writes it (and any other float() reads), up
# to 18 digits in the integers (within any limit of int())
_SIMPLE_LINES = re.compile(rb"(?:\d{1,18} -?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|nan) \d{1,18}\n)*")


_NUMPY_MIN = 5000  # below this (some 130 lines), the regular expression is as quick as numpy
_MAX_STEP_DIGITS = 18  # steps that fit int64; lines with longer steps are parsed one by one
_TYPICAL = b" . \n"  # the non-digits of a line "<digits> <digits>.<digits> <digits>\n"
_VALUE_BYTES = frozenset(b".-+eEinfatyINFATY")  # what repr() of a float spells, nan and inf included
_np: Any = None


def _numpy() -> Any:
    """numpy, imported on first use (``import litexp`` does not import it); None without it."""
    global _np
    if _np is None:
        try:
            import numpy
        except ImportError:  # pragma: no cover - numpy comes with pandas
            _np = False
        else:
            _np = numpy
    return _np or None


def _parse_exact(data: bytes) -> Tuple[List[Point], int]:
    """Every line through :func:`parse_line`, as MLflow reads them; a torn last line is skipped."""
    lines = data.decode("utf-8", errors="replace").split("\n")
    skipped = 0
    if lines[-1] == "":
        lines.pop()
    else:
        lines.pop()  # a last line without newline is torn
        skipped += 1
    points: List[Point] = []
    for line in lines:
        try:
            points.append(parse_line(line))
        except ValueError:
            skipped += 1
    return points, skipped


def _scan_exact(data: bytes, prior: Optional[Point]) -> Tuple[Optional[Point], int]:
    points, skipped = _parse_exact(data)
    return latest(([prior] if prior is not None else []) + points), skipped


def _int_digits_limit() -> int:
    """How many digits ``int()`` reads at most (0: no limit), see ``sys.set_int_max_str_digits``."""
    get = getattr(sys, "get_int_max_str_digits", None)
    return get() if get is not None else 0


class _Scratch(threading.local):
    """Per-thread buffers for the large temporary arrays of :func:`_scan_numpy`: fresh
    arrays of that size cost page faults on every call."""

    KEEP = 1 << 21  # bytes; larger inputs get fresh arrays, and nothing is kept for them

    def __init__(self) -> None:
        self.arrays: Dict[Any, Any] = {}

    def get(self, np: Any, name: Any, size: int) -> Any:
        """An array of ``size`` items of dtype ``name`` (or bool, for other names)."""
        array = self.arrays.get(name)
        if array is None or array.size < size:
            array = np.empty(size, name if not isinstance(name, str) else np.bool_)
            if array.nbytes <= self.KEEP:
                self.arrays[name] = array
        return array[:size]


_scratch = _Scratch()


def _scan_numpy(np: Any, data: bytes, prior: Optional[Point]) -> Tuple[Optional[Point], int]:
    """:func:`scan_latest` of ``data`` ending with a newline, with numpy.

    The positions ``pos`` of the non-digit bytes, and those bytes ``nd``, say where the
    fields of every line are. In a typical file ``nd`` is " . \\n" over and over and no
    two non-digits touch: every line is ``<digits> <digits>.<digits> <digits>`` and
    parses. Otherwise :func:`_scan_shapes` looks at each line's non-digits."""
    a = np.frombuffer(data, np.uint8)
    pos = _non_digits(np, a)
    nd = a.take(pos)
    count = pos.size
    lines = count // 4
    if count == 4 * lines and pos[0] != 0 and nd.tobytes() == _TYPICAL * lines:
        # line i: timestamp before pos[4i], value before pos[4i + 2], step before pos[4i + 3]
        gaps = np.subtract(pos[1:], pos[:-1], out=_scratch.get(np, np.intp, count - 1))
        if gaps.min() > 1:  # no field is empty
            step_len = gaps[2::4] - 1
            longest = max(int(gaps.max()) - 1, int(pos[0]))  # digits in the longest field
            if longest <= _MAX_STEP_DIGITS or (
                step_len.max() <= _MAX_STEP_DIGITS and not _too_long(longest, gaps[3::4], pos[0])
            ):
                return _finish(np, data, prior, a, pos[3::4], None, pos[0::4], pos[2::4], step_len, None)
    return _scan_shapes(np, data, prior, a, pos, nd)


def _non_digits(np: Any, a: Any) -> Any:
    """The positions of the bytes of ``a`` that are not ASCII digits.

    Found as the pairs of bytes that hold one (``flatnonzero``, the costly part, then
    goes through half as many flags), then which byte of each pair it is."""
    n = a.size
    even = n + (n & 1)
    mask = _scratch.get(np, np.bool_, even)
    mask[n:] = False
    shifted = mask[:n].view(np.uint8)
    np.subtract(a, 48, out=shifted)  # "0"..."9" become 0...9, any other byte more (modulo 256)
    np.greater(shifted, 9, out=mask[:n])
    pairs = mask.view("<u2")
    pos = np.flatnonzero(np.not_equal(pairs, 0, out=_scratch.get(np, "pairs", even // 2)))
    which = pairs.take(pos)  # 1: the first byte, 256: the second, 257: both
    pos <<= 1
    both = np.flatnonzero(which == 257)
    which >>= 8
    pos += which
    if both.size:  # the second byte is in, the first goes before it
        pos = np.insert(pos, both, pos.take(both) - 1)
    return pos


def _too_long(longest: int, gaps: Any, first: int) -> bool:
    """Whether a timestamp (``gaps - 1`` digits, and ``first``) has more digits than ``int()`` reads."""
    limit = _int_digits_limit()
    return bool(limit) and longest > limit and (first > limit or gaps.max() - 1 > limit)


def _scan_shapes(
    np: Any, data: bytes, prior: Optional[Point], a: Any, pos: Any, nd: Any
) -> Tuple[Optional[Point], int]:
    """:func:`_scan_numpy` line by line. A line's non-digits, each marked when digits
    come right before it, make its shape (:func:`_line_shape`); lines of a shape that
    surely parses are not parsed, the others go through :func:`parse_line`."""
    count = pos.size
    newline = np.flatnonzero(nd == 10)  # index in pos / nd of each line's newline
    n = newline.size
    first = np.empty_like(newline)  # index of each line's first non-digit
    first[0] = 0
    np.add(newline[:-1], 1, out=first[1:])
    ends = pos.take(newline)
    # one byte per non-digit: the byte (127 for any beyond ASCII), the top bit set after digits
    code = np.zeros(count + 8, np.uint8)
    np.minimum(nd, 127, out=code[:count])
    code[0] |= 128 if pos[0] else 0
    gaps = np.subtract(pos[1:], pos[:-1], out=_scratch.get(np, np.intp, count - 1))
    code[1:count] |= np.greater(gaps, 1, out=_scratch.get(np, "runs", count - 1)).view(np.uint8) << 7
    # the shape of a line: the codes of its first 8 non-digits, up to its newline
    keys = np.ndarray((count + 1,), "<u8", code, strides=(1,)).take(first)
    size = newline - first + 1
    keys &= _key_masks(np).take(np.minimum(size, 9))  # more than 8: 0, parsed one by one
    steps = np.zeros(n, np.intp)  # per line: its step's space among its non-digits; 0: not sure
    rest: Any = None  # the lines (None: all) whose shape is still to be looked at
    for _ in range(8):  # one shape after the other: files have few
        same = keys == keys[0]
        step = _line_shape(int(keys[0]))
        if step:
            steps[same if rest is None else rest[same]] = step
        other = np.flatnonzero(~same)
        if not other.size:
            break
        rest = other if rest is None else rest.take(other)
        keys = keys.take(other)
    else:
        shapes, which = np.unique(keys, return_inverse=True)
        if shapes.size <= 64:  # lines of yet more shapes are parsed one by one
            steps[rest] = np.array([_line_shape(int(x)) for x in shapes.tolist()]).take(which.ravel())
    if steps.all():  # every line parses
        sure, loose, at, ts_end = None, None, first + steps, pos.take(first)
    else:
        sure = np.flatnonzero(steps)
        at = first.take(sure) + steps.take(sure)
        ts_end = pos.take(first.take(sure))
    space = pos.take(at)
    step_len = pos.take(at + 1) - space - 1
    too_long = None
    if step_len.size and step_len.max() > _MAX_STEP_DIGITS:
        too_long = step_len > _MAX_STEP_DIGITS
    limit = _int_digits_limit()
    if limit and max(int(gaps.max()) if gaps.size else 0, int(pos[0])) > limit:  # maybe a long timestamp
        rows = np.arange(n) if sure is None else sure
        long_ts = ts_end - _starts(ends, rows) > limit
        too_long = long_ts if too_long is None else too_long | long_ts
    if too_long is not None and too_long.any():
        keep = ~too_long
        sure = np.flatnonzero(keep) if sure is None else sure[keep]
        ts_end, space, step_len = ts_end[keep], space[keep], step_len[keep]
    if sure is not None:
        if 2 * sure.size < n:
            return _scan_exact(data, prior)
        loose = np.ones(n, bool)
        loose[sure] = False
        loose = np.flatnonzero(loose)
    return _finish(np, data, prior, a, ends, sure, ts_end, space, step_len, loose)


_masks: Any = None


def _key_masks(np: Any) -> Any:
    """Per line size (its non-digits): the bytes of a shape key that are that line's."""
    global _masks
    if _masks is None:
        _masks = np.array([(1 << (8 * s)) - 1 if 0 < s < 9 else 0 for s in range(10)], np.uint64)
    return _masks


def _starts(ends: Any, rows: Any) -> Any:
    """Where lines ``rows`` start, given where every line ends."""
    starts = ends.take(rows - 1) + 1
    starts[rows == 0] = 0
    return starts


@lru_cache(maxsize=4096)
def _line_shape(key: int) -> int:
    """For lines of this shape: where their step's space is among their non-digits if
    they surely parse as ``<digits> <value> <digits>``, else 0.

    Byte ``j`` of ``key`` is the code of the line's ``j``-th non-digit, up to the
    newline: the byte, its top bit set when digits come right before it. Which digits,
    and how many, never decide whether ``float()`` reads a value, so one text of the
    shape (each run of digits spelled "1") decides for all lines of the shape."""
    marks = []
    while True:
        byte, digits = key & 127, (key >> 7) & 1
        marks.append((byte, digits))
        if byte == 10 or not key:
            break
        key >>= 8
    size = len(marks)
    if marks[-1][0] != 10 or size < 3:
        return 0
    cr = marks[-2] == (13, 1) and not marks[-1][1]  # "\r\n"
    step = size - 2 - cr  # the space before the step
    if step < 1 or marks[0] != (32, 1) or marks[step][0] != 32 or not marks[step + 1][1]:
        return 0
    text = []
    for byte, digits in marks[1:step]:
        if byte not in _VALUE_BYTES:
            return 0
        if digits:
            text.append("1")
        text.append(chr(byte))
    if marks[step][1]:
        text.append("1")
    try:
        float("".join(text))
    except ValueError:
        return 0
    return step


def _finish(
    np: Any,
    data: bytes,
    prior: Optional[Point],
    a: Any,
    ends: Any,
    sure: Any,
    ts_end: Any,
    space: Any,
    step_len: Any,
    loose: Any,
) -> Tuple[Optional[Point], int]:
    """The latest point. Line i is ``data[ends[i - 1] + 1:ends[i]]``; the lines ``sure``
    (None: all) parse, the timestamp of ``sure[r]`` ends at ``ts_end[r]`` and its step
    is the ``step_len[r]`` digits after ``space[r]``; the lines ``loose`` (None: none)
    are parsed here, one by one. Of the sure lines only those at the greatest step and,
    among them, the greatest timestamp are parsed: only they can be the latest."""

    def bounds(rows: Any) -> Any:
        return zip(rows.tolist(), _starts(ends, rows).tolist(), ends.take(rows).tolist())

    skipped = 0
    found: List[Tuple[int, Point]] = []  # (line, point) of the loose lines that parse
    if loose is not None and loose.size:
        for i, start, end in bounds(loose):
            try:
                found.append((i, parse_line(data[start:end].decode("utf-8", errors="replace"))))
            except ValueError:
                skipped += 1
    top: Any = None
    rows: Any = None
    if step_len.size:
        top, rows = _top_steps(np, a, data, space, step_len)
        if rows.size > 1:  # the same step: the greatest timestamp
            lines = rows if sure is None else sure.take(rows)
            starts = _starts(ends, lines)
            ts_len = ts_end.take(rows) - starts
            if ts_len.max() <= _MAX_STEP_DIGITS:
                rows = rows.take(_top_steps(np, a, data, starts - 1, ts_len)[1])
        if sure is not None:
            rows = sure.take(rows)
    if found:
        loose_top = max(point[2] for _, point in found)
        if top is None or loose_top > top:
            top, rows = loose_top, None
        found = [(i, point) for i, point in found if point[2] == top]
    candidates = found
    if rows is not None:
        candidates += [(i, parse_line(data[start:end].decode("ascii"))) for i, start, end in bounds(rows)]
        candidates.sort(key=itemgetter(0))
    points = [point for _, point in candidates]
    return latest(([prior] if prior is not None else []) + points), skipped


def _top_steps(np: Any, a: Any, data: bytes, space: Any, step_len: Any) -> Tuple[int, Any]:
    """The greatest number, and the rows that have it, of the numbers spelled by the
    ``step_len[r]`` digits after ``space[r]``: the longest, then digit by digit (the same
    order as the numbers', unless the longest start with zeros)."""
    longest = int(step_len.max())
    rows = np.flatnonzero(step_len == longest)
    at = space.take(rows) + 1
    col = a.take(at)
    for j in range(longest):
        if j:
            col = a.take(at + j)
        top = col.max()
        if j == 0 and top == 48 and longest > 1:  # all of them start with a zero
            return _top_numbers(np, a, space, step_len)
        if rows.size == 1:
            break
        if col.min() != top:
            keep = col == top
            rows, at = rows[keep], at[keep]
    start = int(at[0])
    return int(data[start : start + longest]), rows


def _top_numbers(np: Any, a: Any, space: Any, step_len: Any) -> Tuple[int, Any]:
    """:func:`_top_steps` by the value of every step."""
    back = np.arange(int(step_len.max()))
    digit_at = (space + step_len)[:, None] - back
    there = back < step_len[:, None]
    digits = np.where(there, a.take(np.where(there, digit_at, 0)).astype(np.int64) - 48, 0)
    values = digits @ (np.int64(10) ** back.astype(np.int64))
    top = values.max()
    return int(top), np.flatnonzero(values == top)


def parse_history(data: bytes) -> Tuple[List[Point], int]:
    """Parse a whole metric file. Returns the points and how many lines were skipped.

    A torn last line (no trailing newline, as left by a killed writer) and lines
    that do not parse are skipped.
    """
    if data.endswith(b"\n") or not data:
        fast = _parse_plain(data)
        if fast is not None:
            return fast, 0
    return _parse_exact(data)


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


def unreadable_lines(data: bytes) -> List[Tuple[str, int, bytes]]:
    """``(why, line number, bytes)`` of the lines of a metric file MLflow cannot read (or, for a
    last line without newline, that litexp skips): empty when every line is fine."""
    cut = data.rfind(b"\n") + 1
    body, tail = data[:cut], data[cut:]
    bad = []
    try:  # every line parses, and no line break but \n (and \r\n) is inside one
        text = body.decode("utf-8")
        fine = not parse_history(body)[1] and len(text.splitlines()) == text.count("\n")
    except UnicodeDecodeError:
        fine = False
    if not fine:
        for number, raw in enumerate(body.split(b"\n")[:-1], 1):
            try:
                text = raw.decode("utf-8")
                if len((text + "\n").splitlines()) != 1:
                    raise ValueError("a line break MLflow reads inside the line")
                parse_line(text)
            except ValueError:  # UnicodeDecodeError included
                bad.append(("bad", number, raw))
    if tail:
        bad.append(("torn", body.count(b"\n") + 1, tail))
    return bad
