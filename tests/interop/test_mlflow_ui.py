"""MLflow's web UI, in a real headless Chromium, shows a store written by litexp.

``mlflow server`` runs on a litexp store; Debian's ``chromium`` renders MLflow's React app
(``--dump-dom`` after enough virtual time for the JavaScript to fetch and render) for the
experiment's runs page and for run pages, and saves a screenshot of each under the test's
``tmp_path``. A missing ``chromium`` fails the tests (CI installs it with apt).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator, Tuple

from optional_support import requires

mlflow = requires("mlflow", "these tests open MLflow's UI on litexp's store")
import pytest
from browser_support import chromium, render_command
from interop_support import LitexpStore, mlflow_server, write_litexp_store

BUDGETS_MS = (30000, 90000)
RENDER_TIMEOUT = 240


def visible_text(dom: str) -> str:
    """The text of a dumped DOM, without scripts, styles and tags, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def render(url: str, out_dir: Path, name: str, must_show: Tuple[str, ...]) -> str:
    """Render ``url`` headless; return the visible text once ``must_show`` all appear.

    The screenshot goes to ``out_dir/<name>.png``. A slow first render is retried once
    with a larger virtual-time budget.
    """
    text = ""
    for budget in BUDGETS_MS:
        profile = out_dir / f"{name}-profile-{budget}"
        command = render_command(url, profile, out_dir / (name + ".png"), budget, "1600,1000", "--disable-quic")
        done = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, stdin=subprocess.DEVNULL)
        shutil.rmtree(profile, ignore_errors=True)
        assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
        text = visible_text(done.stdout)
        if all(word in text for word in must_show):
            break
    return text


@pytest.fixture(scope="module")
def lx(tmp_path_factory: Any) -> LitexpStore:
    return write_litexp_store(tmp_path_factory.mktemp("ui-store") / "mlruns")


@pytest.fixture(scope="module")
def server(lx: LitexpStore, tmp_path_factory: Any) -> Iterator[str]:
    chromium()
    log = tmp_path_factory.mktemp("ui-server") / "mlflow-server.log"
    with mlflow_server(lx.root, log) as base:
        yield base


def _run_url(server: str, lx: LitexpStore, name: str) -> str:
    return f"{server}/#/experiments/{lx.experiments['interop main']}/runs/{lx.runs[name]}"


TOP_LEVEL_RUNS = (
    "parent run",
    "failed run",
    "killed run",
    "scheduled run",
    "renamed run, new name",
    "resumed run",
    "running run",
)


def test_experiment_runs_page_lists_the_runs(server: str, lx: LitexpStore, tmp_path: Path) -> None:
    url = f"{server}/#/experiments/{lx.experiments['interop main']}/runs"
    text = render(url, tmp_path, "experiment", TOP_LEVEL_RUNS)
    assert "interop main" in text
    for name in TOP_LEVEL_RUNS:
        assert name in text, name
    assert "deleted run" not in text
    assert (tmp_path / "experiment.png").stat().st_size > 10_000


def test_experiment_page_opens(server: str, lx: LitexpStore, tmp_path: Path) -> None:
    url = f"{server}/#/experiments/{lx.experiments['interop main']}"
    text = render(url, tmp_path, "experiment-home", ("interop main",))
    assert "interop main" in text
    assert f"MLflow {mlflow.__version__}" in text
    assert (tmp_path / "experiment-home.png").is_file()


def test_run_page_shows_name_param_and_metric(server: str, lx: LitexpStore, tmp_path: Path) -> None:
    text = render(_run_url(server, lx, "child run"), tmp_path, "child-run", ("child_param", "child_metric"))
    assert "child run" in text
    assert "child_param" in text
    assert "child_metric" in text
    assert lx.runs["child run"] in text
    assert (tmp_path / "child-run.png").stat().st_size > 10_000


def test_run_page_of_a_failed_run(server: str, lx: LitexpStore, tmp_path: Path) -> None:
    text = render(_run_url(server, lx, "failed run"), tmp_path, "failed-run", ("reason", "Failed"))
    assert "failed run" in text
    assert "reason" in text and "boom" in text
    assert "Failed" in text


def test_run_page_of_a_resumed_run(server: str, lx: LitexpStore, tmp_path: Path) -> None:
    text = render(_run_url(server, lx, "resumed run"), tmp_path, "resumed-run", ("loss", "resumed"))
    assert "resumed run" in text
    assert "loss" in text
    assert "Finished" in text
