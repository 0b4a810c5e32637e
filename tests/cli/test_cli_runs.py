"""``litexp runs``: search one, several or every experiment; every --format parses back to the frame."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import List

import pandas as pd
import pytest
from cli_support import failed, make_store, ok

import litexp


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "mlruns"
    make_store(root)
    make_store(root, runs=2, experiment="beta")
    return root


def frame_of(store: Path, names: List[str], **kwargs: object) -> pd.DataFrame:
    manager = litexp.FileExpManager("file:" + str(store), "Experiment")
    ids = [manager.get_exp(experiment_name=n, create=False).id for n in names]
    return manager.search_records(ids, **kwargs)


def exp_id(store: Path, name: str) -> str:
    return litexp.FileExpManager("file:" + str(store), "Experiment").get_exp(experiment_name=name, create=False).id


def test_json_is_the_frame_with_json_numbers_and_iso_times(store: Path) -> None:
    rows = json.loads(ok("runs", "alpha", "--uri", str(store), "--format", "json"))
    frame = frame_of(store, ["alpha"])
    assert [list(r) for r in rows] == [list(frame.columns)] * len(frame)
    assert [r["run_id"] for r in rows] == list(frame["run_id"])
    for row, (_, want) in zip(rows, frame.iterrows()):
        assert isinstance(row["metrics.ic"], float) and row["metrics.ic"] == want["metrics.ic"]
        assert row["params.lr"] == want["params.lr"]
        assert pd.Timestamp(row["start_time"]) == want["start_time"]
        assert row["start_time"].endswith("+00:00")
    back = pd.DataFrame(rows)
    for column in ("start_time", "end_time"):
        back[column] = pd.to_datetime(back[column], format="ISO8601")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


@pytest.mark.parametrize("fmt,sep", [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv_parse_back_to_the_frame(store: Path, fmt: str, sep: str) -> None:
    text = ok("runs", "alpha", "--uri", str(store), "--format", fmt)
    frame = frame_of(store, ["alpha"])
    back = pd.read_csv(
        io.StringIO(text), sep=sep, dtype={c: str for c in frame.columns if not c.startswith("metrics.")}
    )
    for column in ("start_time", "end_time"):
        back[column] = pd.to_datetime(back[column], format="ISO8601")
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_markdown_is_a_table(store: Path) -> None:
    lines = ok("runs", "alpha", "--uri", str(store), "--format", "markdown").splitlines()
    assert lines[0].startswith("| run_id | experiment_id |") and set(lines[1]) <= set("| -")
    assert len(lines) == 2 + 3


def test_an_experiment_is_a_name_or_an_id_and_several_can_be_given(store: Path) -> None:
    by_name = json.loads(ok("runs", "alpha", "--uri", str(store), "--format", "json"))
    by_id = json.loads(ok("runs", exp_id(store, "alpha"), "--uri", str(store), "--format", "json"))
    assert by_name == by_id and len(by_name) == 3
    both = json.loads(ok("runs", "alpha", exp_id(store, "beta"), "--uri", str(store), "--format", "json"))
    assert len(both) == 5 and {r["experiment_id"] for r in both} == {exp_id(store, "alpha"), exp_id(store, "beta")}
    every = json.loads(ok("runs", "--all", "--uri", str(store), "--format", "json"))
    assert sorted(r["run_id"] for r in every) == sorted(r["run_id"] for r in both)
    table = ok("runs", "--all", "--uri", str(store), env={"COLUMNS": "200"})
    assert "experiment_id" in table.splitlines()[0]


def test_filter_order_and_max_results(store: Path) -> None:
    rows = json.loads(
        ok(
            "runs",
            "alpha",
            "--uri",
            str(store),
            "--filter",
            "params.model = 'lgbm'",
            "--order-by",
            "metrics.ic ASC",
            "--format",
            "json",
        )
    )
    assert [r["tags.mlflow.runName"] for r in rows] == ["run1", "run2"]
    rows = json.loads(
        ok(
            "runs",
            "alpha",
            "--uri",
            str(store),
            "--order-by",
            "metrics.ic DESC",
            "--max-results",
            "1",
            "--format",
            "json",
        )
    )
    assert [r["tags.mlflow.runName"] for r in rows] == ["run2"]
    assert "no runs" in ok("runs", "alpha", "--uri", str(store), "--filter", "metrics.ic > 5")
    assert json.loads(ok("runs", "alpha", "--uri", str(store), "--filter", "metrics.ic > 5", "--format", "json")) == []


def test_columns_take_globs(store: Path) -> None:
    rows = json.loads(ok("runs", "alpha", "--uri", str(store), "--columns", "metrics.*,params.lr", "--format", "json"))
    assert list(rows[0]) == ["run_id", "metrics.ic", "metrics.loss", "params.lr"]
    rows = json.loads(
        ok("runs", "alpha", "--uri", str(store), "--columns", "params.lr", "--columns", "tags.team", "--format", "json")
    )
    assert list(rows[0]) == ["run_id", "params.lr", "tags.team"]
    assert "params.nope" in failed("runs", "alpha", "--uri", str(store), "--columns", "params.nope")


def test_a_view_with_deleted_runs_has_a_lifecycle_column(store: Path) -> None:
    manager = litexp.FileExpManager("file:" + str(store), "Experiment")
    exp = manager.get_exp(experiment_name="alpha", create=False)
    gone = frame_of(store, ["alpha"])["run_id"][0]
    exp.delete_recorder(gone)
    active = json.loads(ok("runs", "alpha", "--uri", str(store), "--format", "json"))
    assert len(active) == 2 and "lifecycle_stage" not in active[0]
    every = json.loads(ok("runs", "alpha", "--uri", str(store), "--view", "all", "--format", "json"))
    assert {r["run_id"]: r["lifecycle_stage"] for r in every}[gone] == "deleted"
    assert list(every[0])[:4] == ["run_id", "experiment_id", "status", "lifecycle_stage"]
    deleted = json.loads(ok("runs", "alpha", "--uri", str(store), "--view", "deleted", "--format", "json"))
    assert [r["run_id"] for r in deleted] == [gone]
    assert "lifecycle_stage" in ok("runs", "alpha", "--uri", str(store), "--view", "all", env={"COLUMNS": "300"})


def test_unknown_experiments_are_named(store: Path) -> None:
    message = failed("runs", "alpha", "nope", "12345", "--uri", str(store))
    assert "'nope'" in message and "'12345'" in message
    assert "--all" in failed("runs", "--uri", str(store))
    assert "not both" in failed("runs", "alpha", "--all", "--uri", str(store))
    assert "max_results" in failed("runs", "alpha", "--max-results", "0", "--uri", str(store))


def test_the_same_table_from_python(store: Path) -> None:
    frame = litexp.tables.runs(str(store), ["alpha"], columns=["metrics.*"])
    assert list(frame.columns) == ["run_id", "metrics.ic", "metrics.loss"] and len(frame) == 3


def test_a_deleted_experiment_is_named_as_such_and_views_with_deleted_runs_include_it(store: Path) -> None:
    manager = litexp.FileExpManager("file:" + str(store), "Experiment")
    gone = set(frame_of(store, ["beta"])["run_id"])
    manager.delete_exp(experiment_name="beta")
    message = failed("runs", "beta", "--uri", str(store))
    assert "'beta' is deleted" in message and "restore --experiment" in message
    rows = json.loads(ok("runs", "beta", "--view", "all", "--uri", str(store), "--format", "json"))
    assert {r["run_id"] for r in rows} == gone and {r["lifecycle_stage"] for r in rows} == {"deleted"}
    every = json.loads(ok("runs", "--all", "--view", "all", "--uri", str(store), "--format", "json"))
    assert gone <= {r["run_id"] for r in every} and len(every) == 5
    assert {r["run_id"] for r in json.loads(ok("runs", "--all", "--uri", str(store), "--format", "json"))}.isdisjoint(
        gone
    )


def test_a_glob_matching_nothing_is_an_error_and_run_name_is_a_column(store: Path) -> None:
    assert "'nomatch.*'" in failed("runs", "alpha", "--uri", str(store), "--columns", "nomatch.*")
    rows = json.loads(ok("runs", "alpha", "--uri", str(store), "--columns", "run_name", "--format", "json"))
    assert sorted(r["tags.mlflow.runName"] for r in rows) == ["run0", "run1", "run2"]
