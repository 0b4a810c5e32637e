"""What every verb shares: --version, --format, terminal width, stable columns, pipes and errors."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path
from typing import Tuple

import pytest
from cli_support import LITEXP, cli, failed, make_store, ok, stderr_on_a_terminal

import litexp
from litexp.cli import build_parser


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "mlruns"
    make_store(root)
    return root


def test_version_is_the_packages() -> None:
    assert ok("--version").strip() == f"litexp {litexp.__version__}"


def test_every_verb_and_option_has_help() -> None:
    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helped = {a.dest: a.help for a in verbs._choices_actions}
    assert set(helped) == set(verbs.choices)
    for name, sub in verbs.choices.items():
        assert helped[name] and "not built" not in helped[name], name
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"litexp {name} {action.option_strings or action.dest} has no help"
        assert cli(name, "--help").returncode == 0


def test_every_verb_takes_one_uri_option() -> None:
    verbs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in verbs.choices.items():
        uris = [a for a in sub._actions if "--uri" in a.option_strings]
        assert len(uris) == 1, name
        assert not any(a.dest in ("store", "source_store") for a in sub._actions if not a.option_strings), name


def test_the_default_store_is_the_environments_then_mlruns(store: Path, tmp_path: Path) -> None:
    assert "alpha" in ok("experiments", cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "alpha" in ok("experiments", cwd=elsewhere, env={"MLFLOW_TRACKING_URI": "file:" + str(store)})
    assert "elsewhere" in failed("experiments", cwd=elsewhere)


def test_a_closed_pipe_ends_quietly(store: Path) -> None:
    make_store(store, runs=40, experiment="many")
    proc = subprocess.Popen(
        LITEXP + ["runs", "many", "--uri", str(store), "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""
    shell = subprocess.run(
        f"{' '.join(LITEXP)} runs many --uri {store} --format json | head -c 5; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.returncode == 0 and shell.stderr == "" and shell.stdout == "[\n  {"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_one_line(store: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            LITEXP + ["runs", "alpha", "--uri", str(store), "--format", "csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stderr == "litexp: cannot write the output: No space left on device\n"


def test_errors_are_one_line_with_status_2(store: Path) -> None:
    assert "metrics.ic >" in failed("runs", "alpha", "--uri", str(store), "--filter", "metrics.ic >")
    assert "'missing'" in failed("runs", "missing", "--uri", str(store))
    assert "nowhere" in failed("experiments", "--uri", str(store.parent / "nowhere"))
    assert "0" * 32 in failed("show", "0" * 32, "--uri", str(store))
    assert "metrics.ic" in failed("runs", "alpha", "--uri", str(store), "--filter", "metrics.ic\n >\n")


def test_tables_fit_the_terminal_and_wide_prints_all(store: Path) -> None:
    narrow = ok("runs", "alpha", "--uri", str(store), env={"COLUMNS": "60"})
    lines = narrow.splitlines()
    assert all(len(line) <= 60 for line in lines[:-1]), narrow
    assert "more column" in lines[-1] and "--wide" in lines[-1]
    assert len(lines[1].split()[0]) == 8  # the run id, shortened
    wide = ok("runs", "alpha", "--uri", str(store), "--wide", env={"COLUMNS": "60"})
    assert "artifact_uri" in wide and "tags.mlflow.user" in wide and "more column" not in wide
    assert max(len(line) for line in wide.splitlines()) > 60
    assert len(wide.splitlines()[1].split()[0]) == 32


def test_long_cells_are_cut_not_wrapped(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    r = litexp.QlibRecorder(litexp.FileExpManager("file:" + str(root), "Experiment"))
    with r.start(experiment_name="long"):
        r.log_params(config="x" * 3000, note="line one\nline two")
        r.log_metrics(ic=0.5)
    out = ok("runs", "long", "--uri", str(root), env={"COLUMNS": "140"})
    lines = out.splitlines()
    assert len(lines) in (2, 3) and all(len(line) <= 140 for line in lines[:2])
    assert "…" in lines[1] and "line two" not in lines[1]
    assert "x" * 3000 in ok("runs", "long", "--uri", str(root), "--format", "csv")


def test_column_order_is_the_same_in_every_process(store: Path) -> None:
    headers = set()
    for seed in ("1", "2", "3", "4"):
        out = ok("runs", "alpha", "--uri", str(store), "--format", "csv", env={"PYTHONHASHSEED": seed})
        headers.add(out.splitlines()[0])
    assert len(headers) == 1
    columns = headers.pop().split(",")
    for prefix in ("metrics.", "params.", "tags."):
        group = [c for c in columns if c.startswith(prefix)]
        assert group == sorted(group)
    kinds = [c.split(".")[0] for c in columns if "." in c]
    assert kinds == sorted(kinds, key=["metrics", "params", "tags"].index)


def test_search_records_frame_has_the_same_stable_order(store: Path) -> None:
    manager = litexp.FileExpManager("file:" + str(store), "Experiment")
    frame = manager.search_records([manager.get_exp(experiment_name="alpha", create=False).id])
    columns = list(frame.columns)
    assert columns[:6] == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    rest = columns[6:]
    assert rest == sorted(rest, key=lambda c: (["metrics", "params", "tags"].index(c.split(".")[0]), c))


@pytest.mark.parametrize(
    "args,label",
    [
        (("doctor",), "litexp doctor: checking"),
        (("gc", "--dry-run"), "litexp gc: checking"),
        (("report", "-o", "report.html"), "report: reading metric histories"),
    ],
    ids=["doctor", "gc", "report"],
)
def test_long_verbs_show_progress_on_a_terminal_only(
    store: Path, tmp_path: Path, args: Tuple[str, ...], label: str
) -> None:
    manager = litexp.FileExpManager("file:" + str(store), "Experiment")
    exp = manager.get_exp(experiment_name="alpha", create=False)
    exp.delete_recorder(exp.search_records()["run_id"][0])  # something for gc to find
    code, _, terminal = stderr_on_a_terminal(*args, "--uri", str(store), cwd=tmp_path)
    assert code in (0, 1) and label in terminal and "\r" in terminal and "\x1b[K" in terminal
    piped = cli(*args, "--uri", str(store), cwd=tmp_path)
    assert label not in piped.stderr and "\r" not in piped.stderr


@pytest.mark.parametrize("fmt", ["csv", "tsv", "markdown"])
def test_an_empty_listing_keeps_its_header(store: Path, fmt: str) -> None:
    for verb, first in (("gc", "kind"), ("stale", "run_id")):
        out = ok(
            verb,
            "--dry-run" if verb == "gc" else "--max-age",
            *([] if verb == "gc" else ["300"]),
            "--uri",
            str(store),
            "--format",
            fmt,
        )
        assert out.splitlines()[0].lstrip("| ").startswith(first), (verb, out)
