"""``litexp experiments``: one row per experiment, with --view, --filter, --order-by and --format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from cli_support import make_store, ok

import litexp


def test_experiments_views_filter_and_order(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1, experiment="alpha")
    make_store(root, runs=1, experiment="beta")
    make_store(root, runs=1, experiment="gamma")
    manager = litexp.FileExpManager("file:" + str(root), "Experiment")
    manager.delete_exp(experiment_name="gamma")
    rows = json.loads(ok("experiments", "--uri", str(root), "--format", "json"))
    assert {r["name"] for r in rows} == {"alpha", "beta", "Default"}
    assert set(rows[0]) >= {"experiment_id", "name", "lifecycle_stage", "creation_time", "artifact_location"}
    assert pd.Timestamp(rows[0]["creation_time"]).tzname() == "UTC"
    deleted = json.loads(ok("experiments", "--uri", str(root), "--view", "deleted", "--format", "json"))
    assert [(r["name"], r["lifecycle_stage"]) for r in deleted] == [("gamma", "deleted")]
    assert len(json.loads(ok("experiments", "--uri", str(root), "--view", "all", "--format", "json"))) == 4
    only = json.loads(ok("experiments", "--uri", str(root), "--filter", "name LIKE 'b%'", "--format", "json"))
    assert [r["name"] for r in only] == ["beta"]
    ordered = json.loads(ok("experiments", "--uri", str(root), "--order-by", "name ASC", "--format", "json"))
    assert [r["name"] for r in ordered] == ["Default", "alpha", "beta"]
    table = ok("experiments", "--uri", str(root))
    assert table.splitlines()[0].split()[:3] == ["experiment_id", "name", "lifecycle_stage"]
    assert litexp.tables.experiments(str(root), view="all")["name"].tolist().count("gamma") == 1
