"""``litexp stale``: RUNNING runs whose process is gone; ``--end`` ends them KILLED."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_support import failed, make_store, ok

import litexp


def orphan_run(root: Path, experiment: str = "alpha") -> str:
    """A run whose process started it and died without ending it."""
    code = (
        "import os, sys\nfrom litexp import R\nR.set_uri('file:' + sys.argv[1])\n"
        f"R.start_exp(experiment_name={experiment!r}, recorder_name='orphan')\n"
        "R.log_metrics(ic=0.5)\nR.get_recorder().flush()\nprint(R.get_recorder().id, flush=True)\nos._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_stale_lists_then_ends_a_run_whose_process_is_gone(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    finished = make_store(root, runs=1)
    run_id = orphan_run(root)
    rows = json.loads(ok("stale", "--uri", str(root), "--format", "json"))
    assert [(r["run_id"], r["run_name"], r["experiment"]) for r in rows] == [(run_id, "orphan", "alpha")]
    assert "gone" in rows[0]["reason"] and finished[0] not in ok("stale", "--uri", str(root))
    store = litexp.FileExpManager("file:" + str(root), "Experiment").store
    assert store.get_run(run_id).status == "RUNNING"

    exp_id = rows[0]["experiment_id"]
    table = ok("stale", exp_id, "--end", "--uri", str(root))
    assert run_id[:8] in table and "KILLED" in table
    run = store.get_run(run_id)
    assert run.status == "KILLED" and run.end_time is not None
    assert ok("stale", "alpha", "--uri", str(root)).strip() == "no stale runs"
    assert json.loads(ok("stale", "--uri", str(root), "--format", "json")) == []


def test_stale_names_an_unknown_experiment(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    assert "'nosuch'" in failed("stale", "alpha", "nosuch", "--uri", str(root))
    assert "--max-age" in failed("stale", "--max-age", "-1", "--uri", str(root))
