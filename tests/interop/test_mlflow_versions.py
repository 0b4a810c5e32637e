"""Stores written by litexp read by several MLflow releases, each in its own environment.

A store is written with litexp's API (every feature it has), then each release in
``READER_VERSIONS`` reads it with its own ``MlflowClient`` (``tools/mlflow_dump.py`` run by
that release's Python) and what it reports must equal litexp's own view. The release
installed in the test environment reads in-place; the others get a virtualenv with
``mlflow-skinny`` (same tracking client and file store, fewer dependencies), created once
per session under ``$LITEXP_VENV_CACHE`` (or a temporary folder) and reused when ready. A
virtualenv that cannot be created fails the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Tuple

from optional_support import requires

mlflow = requires("mlflow", "these tests read litexp's store with MLflow's clients")
import pytest
from interop_support import (
    READER_VERSIONS,
    TOOLS,
    LitexpStore,
    diff_views,
    known_differences,
    litexp_view,
    mlflow_env,
    write_litexp_store,
)

READER_PACKAGE = "mlflow-skinny=={version}"
VENV_TIMEOUT = 900
DUMP_TIMEOUT = 300


def _make_venv(cache: Path, version: str) -> Tuple[str, str]:
    """Create (or reuse) the reader virtualenv of ``version``; return (python, error text)."""
    venv = cache / f"mlflow-skinny-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".litexp-ready"
    if marker.is_file() and python.exists():
        return str(python), ""
    if venv.exists():
        shutil.rmtree(venv)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            READER_PACKAGE.format(version=version),
        ],
        [str(python), "-c", f"import mlflow, sys; sys.exit(mlflow.__version__ != {version!r})"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=VENV_TIMEOUT, env=mlflow_env())
        except subprocess.TimeoutExpired:
            return "", f"{' '.join(step)} timed out after {VENV_TIMEOUT}s"
        if done.returncode != 0:
            return "", f"{' '.join(step)} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
    marker.write_text(READER_PACKAGE.format(version=version) + "\n", encoding="utf-8")
    return str(python), ""


@pytest.fixture(scope="session")
def reader_pythons(tmp_path_factory: Any) -> Dict[str, str]:
    """The Python of an environment holding each reader version (created in parallel)."""
    cache_env = os.environ.get("LITEXP_VENV_CACHE")
    cache = Path(cache_env) if cache_env else tmp_path_factory.mktemp("mlflow-venvs")
    cache.mkdir(parents=True, exist_ok=True)
    pythons: Dict[str, str] = {v: sys.executable for v in READER_VERSIONS if v == mlflow.__version__}
    wanted = [v for v in READER_VERSIONS if v not in pythons]
    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        results = dict(zip(wanted, pool.map(lambda v: _make_venv(cache, v), wanted)))
    errors = [f"MLflow {v}: {err}" for v, (_, err) in results.items() if err]
    if errors:
        pytest.fail("cannot create the MLflow reader environments:\n" + "\n".join(errors))
    pythons.update({v: python for v, (python, _) in results.items()})
    return pythons


@pytest.fixture(scope="module")
def lx(tmp_path_factory: Any) -> LitexpStore:
    """A store written with litexp's API."""
    return write_litexp_store(tmp_path_factory.mktemp("litexp-store") / "mlruns")


@pytest.fixture(scope="module")
def lx_view(lx: LitexpStore) -> Dict[str, Any]:
    return litexp_view(lx.root)


def dump_with(python: str, root: Path, out: Path) -> Dict[str, Any]:
    """What the MLflow installed for ``python`` reports about the store at ``root``."""
    done = subprocess.run(
        [python, str(TOOLS / "mlflow_dump.py"), str(root), str(out)],
        capture_output=True,
        text=True,
        timeout=DUMP_TIMEOUT,
        env=mlflow_env(),
        cwd=str(out.parent),
    )
    assert done.returncode == 0, f"the MLflow reader failed:\n{done.stderr[-4000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=READER_VERSIONS)
def reading(
    request: Any, reader_pythons: Dict[str, str], lx: LitexpStore, lx_view: Dict[str, Any], tmp_path_factory: Any
) -> Tuple[str, Dict[str, Any]]:
    """(version, what that MLflow release reports about the litexp store, read after litexp read it)."""
    version = request.param
    out = tmp_path_factory.mktemp(f"dump-{version}") / "dump.json"
    return version, dump_with(reader_pythons[version], lx.root, out)


def test_reader_is_the_version_asked_for(reading: Tuple[str, Dict[str, Any]]) -> None:
    version, dump = reading
    assert dump["mlflow_version"] == version


def _diffs(reading: Tuple[str, Dict[str, Any]], lx_view: Dict[str, Any], part: str) -> list:
    found = diff_views(reading[1], lx_view, skip=known_differences(reading[1]))
    return [d for d in found if part in d]


def test_experiments_read_alike(reading: Tuple[str, Dict[str, Any]], lx_view: Dict[str, Any]) -> None:
    assert _diffs(reading, lx_view, "experiments[") == []


def test_every_run_is_listed(reading: Tuple[str, Dict[str, Any]], lx: LitexpStore) -> None:
    listed = sorted(r["info"]["run_id"] for r in reading[1]["runs"])
    assert listed == sorted(lx.runs.values())


@pytest.mark.parametrize("part", ["info", "params", "metrics", "tags", "artifacts", "datasets"])
def test_run_data_read_alike(reading: Tuple[str, Dict[str, Any]], lx_view: Dict[str, Any], part: str) -> None:
    problems = [d for d in _diffs(reading, lx_view, "runs[") if f"].{part}" in d]
    assert problems == []


def test_artifacts_of_a_deleted_experiment(
    reading: Tuple[str, Dict[str, Any]], lx: LitexpStore, lx_view: Dict[str, Any]
) -> None:
    """MLflow lists nothing for a run of a deleted experiment (the artifact_uri names the
    folder before the move to .trash); litexp lists the run folder. A documented difference."""
    run_id = lx.runs["run of deleted experiment"]
    (seen,) = [r for r in reading[1]["runs"] if r["info"]["run_id"] == run_id]
    (own,) = [r for r in lx_view["runs"] if r["info"]["run_id"] == run_id]
    assert seen["artifacts"] == []
    assert own["artifacts"] == [["kept", False, own["artifacts"][0][2]]]


def test_metric_histories_read_alike(reading: Tuple[str, Dict[str, Any]], lx_view: Dict[str, Any]) -> None:
    assert _diffs(reading, lx_view, ".metric_history") == []


def test_search_order_alike(reading: Tuple[str, Dict[str, Any]], lx_view: Dict[str, Any]) -> None:
    assert _diffs(reading, lx_view, "search_order") == []


def test_statuses_and_stages(reading: Tuple[str, Dict[str, Any]], lx: LitexpStore) -> None:
    """Spelled out: every status litexp writes reads back under its MLflow name."""
    by_id = {r["info"]["run_id"]: r["info"] for r in reading[1]["runs"]}
    expected = {
        "parent run": ("FINISHED", "active"),
        "failed run": ("FAILED", "active"),
        "killed run": ("KILLED", "active"),
        "scheduled run": ("SCHEDULED", "active"),
        "resumed run": ("FINISHED", "active"),
        "renamed run": ("FINISHED", "active"),
        "running run": ("RUNNING", "active"),
        "deleted run": ("FINISHED", "deleted"),
        "run of deleted experiment": ("FINISHED", "deleted"),
    }
    got = {name: (by_id[lx.runs[name]]["status"], by_id[lx.runs[name]]["lifecycle_stage"]) for name in expected}
    assert got == expected
    assert by_id[lx.runs["running run"]]["end_time"] is None
    deleted = [e for e in reading[1]["experiments"] if e["experiment_id"] == lx.experiments["interop deleted"]]
    assert [e["lifecycle_stage"] for e in deleted] == ["deleted"]


def test_special_values(reading: Tuple[str, Dict[str, Any]], lx: LitexpStore) -> None:
    (parent,) = [r for r in reading[1]["runs"] if r["info"]["run_id"] == lx.runs["parent run"]]
    assert parent["metrics"]["val.score"] == "-Infinity"
    assert parent["metrics"]["metric with space"] == "NaN"
    assert [v for _, v, _ in parent["metric_history"]["val.score"]] == ["NaN", "Infinity", "-Infinity"]
    assert [(v, s) for _, v, s in parent["metric_history"]["train/acc"]] == [(0.1, 0), (0.2, 1), (0.15, 1)]
    assert parent["params"]["param with space"] == "yes"
    assert parent["tags"]["tag with space"] == "héllo ✓"
    assert "temporary" not in parent["tags"]
    assert parent["metrics"]["numpy/f32"] == 0.5 and parent["metrics"]["numpy/i64"] == 7.0
    paths = [p for p, _, _ in parent["artifacts"]]
    assert {"objects/nested/model", "single/file/summary.txt", "copied/detail.txt", "report/sub/detail.txt"} <= set(
        paths
    )
    (renamed,) = [r for r in reading[1]["runs"] if r["info"]["run_id"] == lx.runs["renamed run"]]
    assert renamed["info"]["run_name"] == "renamed run, new name"
