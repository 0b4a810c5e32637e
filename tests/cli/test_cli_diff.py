"""``litexp diff``: params, metrics and tags of runs side by side, only what differs by default."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import failed, make_store, ok


def test_only_the_keys_that_differ_unless_all_keys(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=3)
    rows = json.loads(ok("diff", ids[1], ids[2], "--uri", str(root), "--format", "json"))
    keys = [r["key"] for r in rows]
    assert "params.lr" in keys and "metrics.ic" in keys and "tags.mlflow.runName" in keys
    assert "params.model" not in keys and "params.seed" not in keys and "tags.team" not in keys
    lr = next(r for r in rows if r["key"] == "params.lr")
    assert list(lr) == ["key", ids[1], ids[2]] and lr[ids[2]] == "0.2"
    every = json.loads(ok("diff", ids[1], ids[2], "--uri", str(root), "--all-keys", "--format", "json"))
    assert {"params.model", "params.seed", "tags.team"} <= {r["key"] for r in every}
    three = json.loads(ok("diff", *ids, "--uri", str(root), "--format", "json"))
    assert "params.model" in [r["key"] for r in three]  # linear in run0, lgbm in the others
    table = ok("diff", ids[0], ids[1], "--uri", str(root))
    assert table.splitlines()[0].split() == ["key", ids[0][:8], ids[1][:8]]
    assert ok("diff", ids[0], ids[0], "--uri", str(root)).startswith("no differences")


def test_diff_needs_two_known_runs(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=1)
    assert cli_usage_error(root, ids[0])
    assert "'f00d'" in failed("diff", ids[0], "f00d", "--uri", str(root))


def cli_usage_error(root: Path, run_id: str) -> bool:
    from cli_support import cli

    done = cli("diff", run_id, "--uri", str(root))
    return done.returncode == 2 and "two runs" in done.stderr
