"""``litexp history RUN_ID METRIC``: every point of a metric, in the order logged."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from cli_support import failed, make_store, ok


def test_every_point_with_step_value_and_time(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    points = json.loads(ok("history", ids[1], "loss", "--uri", str(root), "--format", "json"))
    assert [p["step"] for p in points] == [0, 1, 2, 3, 4]
    assert [p["value"] for p in points] == [1.0 / (s + 2) for s in range(5)]
    assert all(p["timestamp"].endswith("+00:00") for p in points)
    rows = list(csv.DictReader(io.StringIO(ok("history", ids[1], "loss", "--uri", str(root), "--format", "csv"))))
    assert [float(r["value"]) for r in rows] == [p["value"] for p in points]
    table = ok("history", ids[1], "loss", "--uri", str(root)).splitlines()
    assert table[0].split() == ["step", "value", "timestamp"] and len(table) == 6


def test_an_unknown_metric_names_it(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=1)
    assert "'sharpe'" in failed("history", ids[0], "sharpe", "--uri", str(root))
