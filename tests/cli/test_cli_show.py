"""``litexp show RUN_ID``: info, params, latest metrics, tags and the artifact tree of one run."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import failed, make_store, ok

import litexp


def test_show_prints_every_part_of_a_run(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    r = litexp.QlibRecorder(litexp.FileExpManager("file:" + str(root), "Experiment"))
    rec = r.get_exp(experiment_name="alpha").get_recorder(recorder_id=ids[1])
    (tmp_path / "report.txt").write_text("hello")
    rec.log_artifact(str(tmp_path / "report.txt"), "sub/dir")
    out = ok("show", ids[1], "--uri", str(root))
    for text in (
        ids[1],
        "run1",
        "alpha",
        "FINISHED",
        "params (",
        "lr",
        "0.1",
        "metrics (2)",
        "ic",
        "0.014",
        "tags (",
        "team",
        "red",
        "artifacts (2 files)",
        "pred",
        "sub/",
        "report.txt  5 B",
    ):
        assert text in out, (text, out)
    assert out.index("params") < out.index("metrics") < out.index("tags") < out.index("artifacts")

    details = json.loads(ok("show", ids[1], "--uri", str(root), "--format", "json"))
    assert details["info"]["run_id"] == ids[1] and details["info"]["experiment_name"] == "alpha"
    assert details["info"]["start_time"].endswith("+00:00")
    assert {k: details["params"][k] for k in ("lr", "model", "seed")} == {"lr": "0.1", "model": "lgbm", "seed": "7"}
    assert details["metrics"]["ic"] == 0.014
    assert {a["path"] for a in details["artifacts"]} >= {"pred", "sub/dir/report.txt"}
    rows = ok("show", ids[1], "--uri", str(root), "--format", "csv").splitlines()
    assert rows[0] == "section,key,value" and "metrics,ic,0.014" in rows


def test_show_names_an_unknown_run(tmp_path: Path) -> None:
    make_store(tmp_path / "mlruns", runs=1)
    assert "'feedbeef'" in failed("show", "feedbeef", "--uri", str(tmp_path / "mlruns"))


def test_a_run_is_also_named_by_the_start_of_its_id(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    short = ids[1][:8]  # as the tables show it
    assert json.loads(ok("show", short, "--uri", str(root), "--format", "json"))["info"]["run_id"] == ids[1]
    assert ids[0] in ok("diff", ids[0][:8], short, "--uri", str(root), "--format", "csv").splitlines()[0]
    assert "'abc'" in failed("show", "abc", "--uri", str(root))  # too short to look up
    assert "'" + "f" * 8 + "'" in failed("show", "f" * 8, "--uri", str(root))
