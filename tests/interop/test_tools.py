"""The benchmark tools: a generated store reads the same in MLflow and litexp; bench.py prints its table.

Nothing here times anything.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _generate(out: Path, *extra: str) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(TOOLS / "generate_store.py"), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _tree(root: Path) -> Dict[str, bytes]:
    """Every file of a store, keyed by relative path, with the root path blanked out."""
    marker = str(root.resolve()).encode()
    return {
        str(path.relative_to(root)): path.read_bytes().replace(marker, b"<ROOT>")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


SIZES = ["--runs", "40", "--metrics", "3", "--params", "2", "--tags", "2", "--steps", "4", "--seed", "7"]


def test_generated_store_reads_the_same_in_mlflow_and_litexp(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.entities import ViewType as MlflowViewType
    from mlflow.tracking import MlflowClient

    from litexp.records import ViewType
    from litexp.store.file import FileStore

    root = tmp_path / "mlruns"
    summary = _generate(root, *SIZES)
    exp_id = summary["experiment_id"]
    assert summary["runs"] == 40 and summary["steps"] == 4

    client = MlflowClient(tracking_uri=root.resolve().as_uri())
    names = {e.experiment_id: e.name for e in client.search_experiments(view_type=MlflowViewType.ALL)}
    assert names == {"0": "Default", exp_id: "bench"}
    found = client.search_runs([exp_id], run_view_type=MlflowViewType.ALL, max_results=1000)
    ml_runs = {r.info.run_id: r for r in found}

    store = FileStore(str(root))
    assert {e.experiment_id: e.name for e in store.list_experiments(ViewType.ALL)} == names
    lit_runs = {r.run_id: r for r in store.load_runs([exp_id], ViewType.ALL)}

    assert len(ml_runs) == 40
    assert set(lit_runs) == set(ml_runs)
    statuses = set()
    nan_seen = False
    for run_id, ml in ml_runs.items():
        lit = lit_runs[run_id]
        info = ml.info
        assert (
            lit.run_name,
            lit.status,
            lit.start_time,
            lit.end_time,
            lit.user_id,
            lit.artifact_uri,
            lit.lifecycle_stage,
        ) == (
            info.run_name,
            info.status,
            info.start_time,
            info.end_time,
            info.user_id,
            info.artifact_uri,
            info.lifecycle_stage,
        )
        assert lit.params == ml.data.params and set(lit.params) == {"p0", "p1"}
        assert lit.tags == ml.data.tags and {"t0", "t1", "mlflow.runName", "mlflow.user"} <= set(lit.tags)
        assert set(lit.metrics) == set(ml.data.metrics) == {"m0", "m1", "m2"}
        for key, value in ml.data.metrics.items():
            assert _same_float(lit.metrics[key], value), (run_id, key)
            nan_seen = nan_seen or math.isnan(value)
        statuses.add(info.status)
        assert (info.end_time is None) == (info.status == "RUNNING")
    assert {"FINISHED", "RUNNING"} <= statuses and len(statuses) >= 3
    assert nan_seen

    for run_id in list(ml_runs)[:5]:
        for key in ("m0", "m2"):
            ml_hist = [(m.timestamp, m.value, m.step) for m in client.get_metric_history(run_id, key)]
            lit_hist = [(m.timestamp, m.value, m.step) for m in store.get_metric_history(run_id, key)]
            assert len(ml_hist) == 4 and [s for _, _, s in ml_hist] == [0, 1, 2, 3]
            assert len(lit_hist) == len(ml_hist)
            for (t1, v1, s1), (t2, v2, s2) in zip(lit_hist, ml_hist):
                assert t1 == t2 and s1 == s2 and _same_float(v1, v2)


def test_generated_store_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "mlruns", tmp_path / "b" / "mlruns"
    first = _generate(a, *SIZES)
    second = _generate(b, *SIZES)
    assert first["experiment_id"] == second["experiment_id"]
    assert _tree(a) == _tree(b)
    other = _generate(tmp_path / "c" / "mlruns", *SIZES[:-1], "8")
    assert other["experiment_id"] != first["experiment_id"]


def test_bench_quick_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = [
        "--quick",
        "--skip-mlflow",
        "--repeats",
        "1",
        "--warm-repeats",
        "1",
        "--import-repeats",
        "1",
        "--search-runs",
        "20",
        "--log-calls",
        "100",
        "--churn-runs",
        "3",
        "--long-runs",
        "5",
        "--long-steps",
        "20",
        "--workdir",
        str(tmp_path / "work"),
        "--json",
        str(out),
    ]
    proc = subprocess.run(
        [sys.executable, str(TOOLS / "bench.py"), *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=str(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "| measurement | litexp | MLflow | ratio (MLflow/litexp) | floor | litexp/floor | goal |" in text
    rows: List[str] = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    for prefix in ("1.", "2.", "3a.", "3b.", "4.", "5.", "6."):
        assert any(row.startswith("| " + prefix) for row in rows), prefix
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 7, row
        assert cells[1] != "—", row  # every row has a litexp figure
        assert cells[2] == "—", row  # MLflow skipped
    for fact in ("CPU:", "cores:", "Python (litexp):", "litexp:", "date:", "file system:"):
        assert fact in text
    data = json.loads(out.read_text())
    assert len(data["rows"]) == len(rows)
    assert data["sizes"]["search_runs"] == 20
