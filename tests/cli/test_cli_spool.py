"""``litexp spool [--send]``: what waits for an MLflow server (a real outage is tested in
tests/server/test_rest_faults.py)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import ok


def test_an_empty_spool(tmp_path: Path) -> None:
    env = {"LITEXP_SPOOL_DIR": str(tmp_path / "spool")}
    assert ok("spool", env=env).strip() == "nothing spooled"
    assert json.loads(ok("spool", "--format", "json", env=env)) == []
    assert ok("spool", "--send", env=env).strip() == "nothing spooled"
