"""``litexp pull --from URI``: another store's runs copied into the store (``--uri``).

Pulling from a real ``mlflow server`` is tested in tests/server/test_push_pull_server.py."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import cli, failed, make_store, ok


def test_pull_copies_into_the_store(tmp_path: Path) -> None:
    make_store(tmp_path / "team", runs=2, experiment="shared")
    env = {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}
    done = cli("pull", "--from", str(tmp_path / "team"), "--experiment", "shared", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    pulled = json.loads(ok("runs", "shared", "--format", "json", cwd=tmp_path))  # into ./mlruns
    assert len(pulled) == 2


def test_pull_from_nowhere_is_one_line(tmp_path: Path) -> None:
    assert "nowhere" in failed(
        "pull",
        "--from",
        str(tmp_path / "nowhere"),
        "--uri",
        str(tmp_path / "mine"),
        env={"LITEXP_SPOOL_DIR": str(tmp_path / "spool")},
    )
    assert not (tmp_path / "mine").exists()
