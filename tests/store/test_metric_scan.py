"""scan_latest gives what parsing every line and taking MLflow's latest point gives.

The reference below parses each line with parse_line, counts the lines it refuses and
takes ``latest`` over the prior point and all parsed points. scan_latest is checked on
both of its paths: line by line (small inputs) and with numpy (forced by lowering the
size from which numpy is used).
"""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litexp.store.file import metric_lines
from litexp.store.file.metric_lines import format_lines, latest, parse_history, parse_line, scan_latest


def reference_points(data):
    lines = data.decode("utf-8", errors="replace").split("\n")
    skipped = 0
    if lines[-1] == "":
        lines.pop()
    else:
        lines.pop()  # torn last line
        skipped += 1
    points = []
    for line in lines:
        try:
            points.append(parse_line(line))
        except ValueError:
            skipped += 1
    return points, skipped


def reference(data, prior=None):
    points, skipped = reference_points(data)
    return latest(([] if prior is None else [prior]) + points), skipped


def key(result):
    """Comparable form: repr tells nan, -0.0 and 0.0 apart; the types must match too."""
    point, skipped = result
    if point is None:
        return None, skipped
    ts, value, step = point
    return (type(ts), ts, type(value), repr(value), type(step), step), skipped


def scans(data, prior=None):
    """scan_latest on its line-by-line path and on its numpy path."""
    old = metric_lines._NUMPY_MIN
    try:
        metric_lines._NUMPY_MIN = 1 << 62
        slow = scan_latest(data, prior)
        metric_lines._NUMPY_MIN = 0
        fast = scan_latest(data, prior)
    finally:
        metric_lines._NUMPY_MIN = old
    return slow, fast, scan_latest(data, prior)


def check(data, prior=None):
    want = key(reference(data, prior))
    for got in scans(data, prior):
        assert key(got) == want, (data[:300], prior)
    return reference(data, prior)


# --- generated lines -----------------------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=25)
integers = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.integers(0, 10**6).map(str),
    st.integers(1735689600000, 1735689700000).map(str),
    digits,  # leading zeros
    st.sampled_from(["+5", "-0", "-007", "1_000", "1__0", "_1", "", "-", "+", "٣", "1.0", "1e3", "0x10", "0" * 30]),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
values = st.one_of(
    floats.map(repr),
    st.sampled_from([0.0, -0.0, 1e20, 5e-324, 1e-05, 3.0000000000000004e-05, -1.5e-07, 1e16, 0.5]).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        [
            "nan",
            "-nan",
            "inf",
            "-inf",
            "+inf",
            "Infinity",
            "-Infinity",
            "NaN",
            "iNf",
            "1.",
            ".5",
            "-.5",
            "1.e5",
            "1e5",
            "1E+5",
            "1e",
            "e5",
            ".",
            "-",
            "1.2.3",
            "1e5e5",
            "1_0.5",
            "1__0",
            "nan1",
            "in1f",
            "--1",
            "+-1",
            "1.5e",
            "0x1p3",
            "",
            "1,5",
            "٣.٥",
            "1e-",
            ".e5",
            "-e5",
            "5-",
            "1+1",
        ]
    ),
)
separators = st.sampled_from([" "] * 12 + ["  ", "\t", " \t"])
endings = st.sampled_from(["\n"] * 12 + ["\r\n", " \n", "\t\n", "\r\r\n", "\x0b\n", "\xa0\n", "\u3000\n"])


@st.composite
def lines(draw):
    kind = draw(st.sampled_from(["3"] * 10 + ["2", "4", "5", "1", "blank", "junk", "bytes", "lead"] + ["soup"] * 4))
    if kind == "soup":  # the bytes that decide a line's shape, in any order
        return draw(st.text("0123456789" * 3 + "  .-+eEnaif\r\t\xa0_", max_size=16)).encode() + b"\n"
    if kind == "bytes":
        return draw(st.binary(max_size=20)).replace(b"\n", b"") + b"\n"
    if kind == "junk":
        return draw(st.text(max_size=20)).replace("\n", "").encode("utf-8", "surrogatepass") + b"\n"
    if kind == "blank":
        return draw(st.sampled_from([b"\n", b" \n", b"\r\n", b"  \n"]))
    ts, value, step = draw(integers), draw(values), draw(integers)
    fields = {
        "1": [ts],
        "2": [ts, value],
        "3": [ts, value, step],
        "4": [ts, value, step, draw(integers)],
        "5": [ts, value, step, draw(st.text("abc0123", max_size=5)), draw(st.text("abc0123", max_size=5))],
        "lead": [ts, value, step],
    }[kind]
    text = fields[0] + "".join(draw(separators) + field for field in fields[1:]) + draw(endings)
    if kind == "lead":
        text = draw(st.sampled_from([" ", "\t", "\xa0", "\ufeff"])) + text
    return text.encode("utf-8", "surrogatepass")


@st.composite
def typical_lines(draw):
    """Lines as MLflow writes them, with few distinct steps and timestamps so ties happen."""
    ts = draw(st.sampled_from([1735689600123, 1735689600124, 7]))
    value = draw(st.one_of(floats, st.sampled_from([0.0, -0.0, 0.5, 0.25])))
    step = draw(st.one_of(st.integers(0, 3), st.integers(0, 10**4)))
    return f"{ts} {value!r} {step}\n".encode()


points = st.tuples(st.integers(-5, 10**13), floats, st.integers(-5, 10**4))
priors = st.one_of(st.none(), points)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(lines(), typical_lines()), max_size=30), priors)
def test_any_lines(chunks, prior):
    check(b"".join(chunks), prior)


@settings(max_examples=200, deadline=None)
@given(st.lists(typical_lines(), max_size=40), priors)
def test_typical_lines(chunks, prior):
    check(b"".join(chunks), prior)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"5 1.5 3\n",
                b"5 nan 3\n",
                b"5 2.5 3\n",
                b"5 -0.0 3\n",
                b"5 0.0 3\n",
                b"6 0.5 3\n",
                b"4 9.5 3\n",
                b"5 1.5 2\n",
                b"5 inf 3\n",
                b"5 -inf 3\n",
                b"5 1.5 03\n",
                b"5 nan 003\n",
            ]
        ),
        max_size=12,
    ),
    priors,
)
def test_ties_and_nan(chunks, prior):
    """Equal steps and timestamps: Python's max keeps the first of equals; nan compares false."""
    check(b"".join(chunks), prior)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(lines(), typical_lines()), max_size=30), st.binary(max_size=10))
def test_torn_last_line(chunks, torn):
    check(b"".join(chunks) + torn.replace(b"\n", b"") + b"1 2")


def big_file(n=3000, seed=0, steps=None):
    rnd = random.Random(seed)
    ts = 1735689600123
    out = []
    for i in range(n):
        ts += rnd.randint(0, 200)
        out.append((ts, rnd.random(), i if steps is None else steps(i, rnd)))
    return format_lines(out)


BIG = big_file()
BIG_LINES = BIG.splitlines(keepends=True)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(BIG_LINES) - 1), st.one_of(lines(), typical_lines())), max_size=4),
    priors,
)
def test_big_file_with_odd_lines(changes, prior):
    """A long typical file with a few lines replaced: mostly the numpy path's line checks."""
    rows = list(BIG_LINES)
    for at, line in changes:
        rows[at] = line
    check(b"".join(rows), prior)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["up", "down", "random", "few", "zeros", "huge", "negative"]))
def test_big_files_of_many_step_orders(seed, order):
    steps = {
        "up": lambda i, r: i,
        "down": lambda i, r: 10**5 - i,
        "random": lambda i, r: r.randint(0, 10 ** r.randint(0, 18)),
        "few": lambda i, r: r.randint(0, 3),
        "zeros": lambda i, r: 0,
        "huge": lambda i, r: r.randint(0, 10**25),
        "negative": lambda i, r: r.randint(-10, 10),
    }[order]
    check(big_file(2000, seed, steps))


def test_explicit_cases():
    assert scan_latest(b"") == (None, 0)
    assert scan_latest(b"", (1, 2.0, 3)) == ((1, 2.0, 3), 0)
    assert scan_latest(BIG) == ((int(BIG_LINES[-1].split()[0]), float(BIG_LINES[-1].split()[1]), 2999), 0)
    # the first of equal points wins, the prior before the data
    big = BIG + b"1 0.0 2999\n" + BIG_LINES[-1]
    assert check(big, None)[0] == parse_line(BIG_LINES[-1].decode())
    assert key(check(BIG, (10**15, -0.0, 2999))) == key(((10**15, -0.0, 2999), 0))
    # a greater step anywhere wins, also written with leading zeros
    for extra in (b"5 0.5 3000\n", b"5 0.5 0003000\n", b"5 0.5 99999999999999999999\n", b"5 0.5 +3000\n"):
        for at in (0, 1000, len(BIG_LINES)):
            rows = list(BIG_LINES)
            rows.insert(at, extra)
            point, skipped = check(b"".join(rows))
            assert point[0] == 5 and skipped == 0
    # a step below the greatest with more digits (leading zeros)
    check(BIG + b"5 0.5 0000000001\n")


@pytest.mark.parametrize(
    "line",
    [
        b"1735689600123 0.5 1\r\n",  # Windows line ends
        b"1735689600123 1e-05 1\n",
        b"1735689600123 -0.5 1\n",
        b"1735689600123 nan 1\n",
        b"1735689600123 5 1\n",
        b"1735689600123 0.5\n",  # no step: step 0
        b"1735689600123 0.5 1 ds ctx\n",  # dataset fields: step 0
        b"1735689600123 0.5 1 2\n",
        b"1735689600123 0.5 \xd9\xa3\n",  # Arabic-Indic digit three: int() reads it
        b"1735689600123 0.5 1\xc2\xa0\n",  # no-break space, stripped
        b"1735689600123 0.5 1\xa0\n",  # not UTF-8
        b"\n",
        b"1735689600123\t0.5 1 2\n",  # a tab is not a separator
        b"1735689600123 0.5\t1 2\n",
        b"1735689600123 0.5 " + b"1" * 19 + b"\n",
        b"1" * 5000 + b" 0.5 1\n",  # more digits than int() reads
        b"1735689600123 0.5 1 \n",
        b" 1735689600123 0.5 1\n",
    ],
)
@pytest.mark.parametrize("where", ["all", "first", "middle", "last"])
def test_unusual_lines(line, where):
    if where == "all":
        data = line * 300
    else:
        rows = list(BIG_LINES)
        rows.insert({"first": 0, "middle": len(rows) // 2, "last": len(rows)}[where], line)
        data = b"".join(rows)
    check(data)
    check(data, (1, math.nan, 2999))


def test_int_digit_limit_is_followed():
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("no int digit limit in this Python")
    data = BIG + b"1" * 700 + b" 0.5 5000\n"
    old = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(640)
        assert check(data)[1] == 1
    finally:
        sys.set_int_max_str_digits(old)
    assert check(data)[1] == 0


def test_importing_litexp_does_not_import_numpy():
    code = "import sys, litexp, litexp.store.file.metric_lines as m; m.scan_latest(b'1 2 3\\n'); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@settings(max_examples=300, deadline=None)
@given(st.lists(typical_lines(), max_size=10), st.lists(lines(), max_size=3), st.randoms(), st.booleans())
def test_parse_history_reads_every_line_as_parse_line(chunks, odd, rnd, torn):
    for line in odd:  # a few odd lines among typical ones
        chunks.insert(rnd.randint(0, len(chunks)), line)
    data = b"".join(chunks) + (b"1 2" if torn else b"")
    points, skipped = reference_points(data)
    got_points, got_skipped = parse_history(data)
    assert [repr(p) for p in got_points] == [repr(p) for p in points] and got_skipped == skipped


@pytest.mark.parametrize(
    "line", [b"1\t2 3 4\n", b"1 2\t3 4\n", b"1 2 3\x1c4\n", b"1 2 3\r\n", b"1 2 3\t\n", b"1 2 3 \n"]
)
@pytest.mark.parametrize("before", [b"", b"5 0.5 7\n" * 3])
def test_parse_history_whitespace_inside_fields(line, before):
    data = before + line
    points, skipped = reference_points(data)
    assert parse_history(data) == (points, skipped)
    assert key(scan_latest(data)) == key(reference(data))


@pytest.mark.parametrize("count", [5, 20, 100, 400])
def test_many_shapes_of_lines(count):
    """Lines of many different shapes among typical ones (more than are looked at one by one)."""
    rnd = random.Random(count)
    rows = list(BIG_LINES)
    for _ in range(count):
        value = "".join(rnd.choice("0123456789.-+eEnaif") for _ in range(rnd.randint(1, 9)))
        end = rnd.choice(["\n", "\r\n", " \n"])
        rows.insert(rnd.randint(0, len(rows)), f"{rnd.randint(0, 10**13)} {value} {rnd.randint(0, 4000)}{end}".encode())
    check(b"".join(rows))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1, 3, 1000]), st.sampled_from([1, 2, 50]), st.booleans())
def test_big_files_with_equal_steps_and_timestamps(seed, steps, stamps, nans):
    """Many lines at the greatest step: the greatest timestamp decides, then the values
    (first of equals, nan compares false), in file order."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(2500):
        value = rnd.choice([math.nan, 0.5, -0.0, 0.0, 1.5]) if nans else rnd.random()
        ts = 1735689600000 + rnd.randrange(stamps)
        rows.append(f"{ts if rnd.random() > 0.01 else '0' + str(ts)} {value!r} {rnd.randrange(steps)}\n")
    check("".join(rows).encode())
