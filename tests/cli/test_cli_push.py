"""``litexp push --to URI``: the store's runs (``--uri``) copied into another store.

Pushing to a real ``mlflow server`` is tested in tests/server/test_push_pull_server.py."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import cli, failed, make_store, ok


def test_push_copies_the_store_once(tmp_path: Path) -> None:
    ids = make_store(tmp_path / "mlruns", runs=2)
    env = {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}
    dry = cli("push", "--to", str(tmp_path / "copy"), "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0 and "would copy" in dry.stderr and not (tmp_path / "copy").exists()
    done = cli("push", "--to", str(tmp_path / "copy"), cwd=tmp_path, env=env)  # --uri: ./mlruns
    assert done.returncode == 0, done.stderr
    copied = json.loads(ok("runs", "alpha", "--uri", str(tmp_path / "copy"), "--format", "json"))
    assert sorted(r["tags.mlflow.runName"] for r in copied) == ["run0", "run1"] and len(ids) == 2
    again = cli("push", "--uri", str(tmp_path / "mlruns"), "--to", str(tmp_path / "copy"), cwd=tmp_path, env=env)
    assert again.returncode == 0 and "0 created" in again.stderr


def test_push_needs_a_target_and_names_bad_ones(tmp_path: Path) -> None:
    make_store(tmp_path / "mlruns", runs=1)
    assert cli("push", cwd=tmp_path).returncode == 2  # argparse: --to is required
    assert "ftp" in failed(
        "push", "--to", "ftp://example.org/x", cwd=tmp_path, env={"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}
    )
