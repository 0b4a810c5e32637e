"""``litexp doctor [--fix]``: faults planted by hand in real stores are listed with their ids,
repaired without losing data, and afterwards MLflow's own file store reads the whole store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml
from cli_support import cli, failed, make_store, ok
from optional_support import requires

from litexp import FileExpManager, QlibRecorder

TWO_HOURS_AGO = time.time() - 7200


def _age(*paths: Path) -> None:
    """Make files look written two hours ago: by a writer long gone, not one at work."""
    for path in paths:
        os.utime(path, (TWO_HOURS_AGO, TWO_HOURS_AGO))


def _experiment_dir(root: Path, name: str) -> Path:
    for meta in sorted(root.glob("*/meta.yaml")):
        if yaml.safe_load(meta.read_text()).get("name") == name:
            return meta.parent
    raise AssertionError(f"no experiment {name!r} in {root}")


def _tree(root: Path) -> Dict[str, Tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            st = os.stat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def _abandoned_run(root: Path, experiment: str) -> str:
    """A run started by a process that then dies without ending it; its id."""
    code = (
        "import os, sys\n"
        "from litexp import FileExpManager, QlibRecorder\n"
        f"r = QlibRecorder(FileExpManager('file:' + {str(root)!r}, 'Experiment'))\n"
        f"run = r.start(experiment_name={experiment!r})\n"
        "run.__enter__()\n"
        "print(r.get_recorder().id, flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _mlflow_reads_everything(root: Path) -> Dict[str, Dict[str, List[float]]]:
    """Every run of every experiment as MLflow's file store reads it: run id → metric → history."""
    requires("mlflow", "the repaired store is checked with MLflow's own reader")
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient("file:" + str(root))
    found: Dict[str, Dict[str, List[float]]] = {}
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            run = client.get_run(run.info.run_id)
            found[run.info.run_id] = {
                key: [m.value for m in client.get_metric_history(run.info.run_id, key)] for key in run.data.metrics
            }
    return found


def _doctor(root: Path, *options: str, code: int) -> str:
    done = cli("doctor", "--uri", str(root), *options)
    assert done.returncode == code, f"exit {done.returncode}: {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def test_a_clean_store_has_no_problems(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=2)
    before = _tree(root)
    assert ok("doctor", "--uri", str(root)).strip() == f"no problems found in {root}"
    assert json.loads(ok("doctor", "--uri", str(root), "--format", "json")) == []
    assert ok("doctor", "--uri", str(root), "--fix").strip() == f"no problems found in {root}"
    assert _tree(root) == before

    import litexp

    report = litexp.doctor(str(root))
    assert report.ok and report.problems == [] and report.store == str(root)


def test_faults_are_listed_repaired_without_losing_data_and_mlflow_then_reads_the_store(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=5)
    ok("runs", "alpha", "--uri", str(root))  # a search: the experiment gets its index
    r = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    with r.start(experiment_name="gamma"):
        r.log_metrics(step=0, sharpe=1.5)
    exp = _experiment_dir(root, "alpha")
    gamma = _experiment_dir(root, "gamma")
    dead = _abandoned_run(root, "alpha")

    # a torn last line, and a line no reader can parse
    torn = exp / ids[0] / "metrics" / "ic"
    history = torn.read_bytes()
    torn.write_bytes(history + b"1700000000000 0.5")
    bad_line = exp / ids[0] / "metrics" / "loss"
    bad_line.write_bytes(bad_line.read_bytes() + b"not a point\n1700000000001 0.25 9\n")
    # what a writer killed while rewriting meta.yaml in place leaves: empty, or cut in the middle
    empty_meta = exp / ids[1] / "meta.yaml"
    empty_meta.write_bytes(b"")
    cut_meta = exp / ids[2] / "meta.yaml"
    cut_meta_bytes = cut_meta.read_bytes()[: len(cut_meta.read_bytes()) // 2]
    cut_meta.write_bytes(cut_meta_bytes)
    gamma_meta = gamma / "meta.yaml"
    gamma_bytes = gamma_meta.read_bytes()[: gamma_meta.read_bytes().index(b"name:") + 9]
    gamma_meta.write_bytes(gamma_bytes)
    # leftover temporary files (an old one, and one a writer may still be using), an editor's backup
    old_temp = exp / ids[3] / ".litexp.4242.0123456789a.litexp-tmp"
    old_temp.write_bytes(b"half a meta")
    young_temp = exp / ".litexp.4243.0123456789b.litexp-tmp"
    young_temp.write_bytes(b"in progress")
    backup = exp / ids[3] / "tags" / "team~"
    backup.write_text("red")
    binary = exp / ids[4] / "params" / "blob"
    binary.write_bytes(b"\xff\xfe\x00")
    # a folder a notebook left at the root, a damaged search index, a torn line in the dead run
    stray = root / ".ipynb_checkpoints"
    stray.mkdir()
    (stray / "notes.txt").write_text("keep me")
    from litexp.store.file.index import index_path

    index = Path(index_path(str(exp)))
    assert index.exists()
    index.write_bytes(b"this is not SQLite" * 64)
    dead_metric = exp / dead / "metrics" / "x"
    dead_metric.write_bytes(b"1700000000000 1.0 0\n17000")
    _age(torn, bad_line, empty_meta, cut_meta, gamma_meta, old_temp, backup, binary, dead_metric)

    try:
        _mlflow_reads_everything(root)
    except Exception:  # MLflow's file store fails on this store as it is
        pass
    else:
        raise AssertionError("MLflow read the damaged store")

    before = _tree(root)
    text = _doctor(root, code=1)
    for run_id in ids + [dead]:
        assert run_id in text
    assert gamma.name in text and ".ipynb_checkpoints" in text
    assert text.rstrip().endswith("`litexp doctor --fix` repairs 12")
    rows = json.loads(_doctor(root, "--format", "json", code=1))
    assert _tree(root) == before  # checking writes nothing
    found = {(row["kind"], row["run_id"]) for row in rows}
    assert found == {
        ("torn-metric", ids[0]),
        ("torn-metric", ids[0]),
        ("run-meta", ids[1]),
        ("run-meta", ids[2]),
        ("temp-file", ids[3]),
        ("bad-file", ids[3]),
        ("bad-file", ids[4]),
        ("stray-folder", None),
        ("damaged-index", None),
        ("experiment-meta", None),
        ("dead-run", dead),
        ("torn-metric", dead),
    }
    assert len(rows) == 12 and all(row["fixed"] is False for row in rows)  # `fixed` even when only checking
    assert all(row["fix"] and row["message"] and row["path"].startswith(str(root)) for row in rows)
    assert {row["experiment_id"] for row in rows if row["kind"] == "experiment-meta"} == {gamma.name}

    fixed = json.loads(_doctor(root, "--fix", "--format", "json", code=0))
    assert len(fixed) == 12 and all(row["fixed"] for row in fixed)
    assert _doctor(root, code=0).strip() == f"no problems found in {root}"

    # nothing was lost: what was cut or moved is kept where doctor said
    assert torn.read_bytes() == history
    assert (exp / ids[0] / ".litexp-doctor" / "metrics" / "ic.cut").read_bytes() == b"1700000000000 0.5\n"
    assert (exp / ids[0] / ".litexp-doctor" / "metrics" / "loss.cut").read_bytes() == b"not a point\n"
    assert bad_line.read_bytes().endswith(b"1700000000001 0.25 9\n")
    assert (exp / ids[2] / ".litexp-doctor" / "meta.yaml").read_bytes() == cut_meta_bytes
    assert (root / ".litexp-doctor.trash" / gamma.name / "meta.yaml").read_bytes() == gamma_bytes
    assert (exp / ids[3] / ".litexp-doctor" / "tags" / "team~").read_text() == "red"
    assert (exp / ids[4] / ".litexp-doctor" / "params" / "blob").read_bytes() == b"\xff\xfe\x00"
    assert (root / ".litexp-doctor.trash" / ".ipynb_checkpoints" / "notes.txt").read_text() == "keep me"
    assert (exp / dead / ".litexp-doctor" / "metrics" / "x.cut").read_bytes() == b"17000\n"
    assert young_temp.exists() and not old_temp.exists() and not stray.exists()
    assert not index.exists() or index.read_bytes().startswith(b"SQLite format 3\x00")  # a new one, or none

    # the rebuilt meta.yaml files say what the folders still hold
    for run_id, name in ((ids[1], "run1"), (ids[2], "run2")):
        meta = yaml.safe_load((exp / run_id / "meta.yaml").read_text())
        assert (meta["run_id"], meta["experiment_id"], meta["run_name"], meta["status"]) == (run_id, exp.name, name, 5)
        assert meta["start_time"] <= meta["end_time"] and meta["lifecycle_stage"] == "active"
    assert yaml.safe_load(gamma_meta.read_text())["name"] == f"recovered-{gamma.name}"
    dead_meta = yaml.safe_load((exp / dead / "meta.yaml").read_text())
    assert dead_meta["status"] == 5 and dead_meta["end_time"] is not None

    runs = _mlflow_reads_everything(root)
    assert set(ids + [dead]) <= set(runs) and len(runs) == len(ids) + 2
    assert runs[ids[0]]["ic"] == [0.001 * step for step in range(5)]
    assert runs[ids[0]]["loss"][-1] == 0.25
    listed = json.loads(ok("runs", "--all", "--view", "all", "--uri", str(root), "--format", "json"))
    assert {row["run_id"] for row in listed} == set(runs)


def test_duplicate_names_are_reported_and_left_for_the_user(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    exp = _experiment_dir(root, "alpha")
    twin = root / "123456789012345678"
    twin.mkdir()
    (twin / "meta.yaml").write_text((exp / "meta.yaml").read_text().replace(exp.name, twin.name))

    text = _doctor(root, code=1)
    assert "duplicate-name" in text and "'alpha'" in text and exp.name in text and twin.name in text
    assert "cannot repair it" in text
    text = _doctor(root, "--fix", code=1)
    assert "not fixed: none" in text and "rename_experiment" in text and "1 left" in text
    assert yaml.safe_load((twin / "meta.yaml").read_text())["name"] == "alpha"
    assert yaml.safe_load((exp / "meta.yaml").read_text())["name"] == "alpha"

    meta = twin / "meta.yaml"
    meta.write_text(meta.read_text().replace("name: alpha", "name: alpha-copy"))
    _doctor(root, code=0)


def test_a_file_that_just_changed_is_reported_but_repaired_only_once_it_settled(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=1)
    metric = _experiment_dir(root, "alpha") / ids[0] / "metrics" / "ic"
    metric.write_bytes(metric.read_bytes() + b"17")
    text = _doctor(root, "--fix", code=1)
    assert "not done" in text and "a writer may be at work" in text
    assert metric.read_bytes().endswith(b"17")
    _age(metric)
    _doctor(root, "--fix", code=0)
    assert not metric.read_bytes().endswith(b"17")


def test_a_run_whose_process_is_alive_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    r = QlibRecorder(FileExpManager("file:" + str(root), "Experiment"))
    with r.start(experiment_name="alpha"):
        r.log_metrics(step=0, ic=0.5)
        recorder = r.get_recorder()
        run_dir = _experiment_dir(root, "alpha") / recorder.id
        half = run_dir / "metrics" / "half"
        half.write_bytes(b"17000000")  # as if a live writer were halfway through a line
        _age(half)
        assert ok("doctor", "--uri", str(root), "--fix").strip() == f"no problems found in {root}"
        assert half.read_bytes() == b"17000000"
        half.unlink()


def test_a_server_or_a_missing_store_is_one_line_and_status_2(tmp_path: Path) -> None:
    assert "file stores" in failed("doctor", "--uri", "http://127.0.0.1:9")
    assert str(tmp_path / "nowhere") in failed("doctor", "--uri", str(tmp_path / "nowhere"))


def test_what_a_repair_puts_aside_is_not_taken_for_an_experiment(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    (root / ".ipynb_checkpoints").mkdir()
    assert cli("doctor", "--uri", str(root)).returncode == 1
    assert cli("doctor", "--uri", str(root), "--fix").returncode == 0
    assert (root / ".litexp-doctor.trash" / ".ipynb_checkpoints").is_dir()
    listed = cli("experiments", "--uri", str(root))
    assert listed.returncode == 0 and listed.stderr == "" and "alpha" in listed.stdout
    assert cli("doctor", "--uri", str(root)).returncode == 0


def test_a_removal_cut_short_is_left_to_gc(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    run_dir = next(root.glob(f"*/{ids[0]}"))
    (run_dir / "meta.yaml").rename(run_dir / ".litexp-removing.yaml")  # what gc leaves when killed
    run_dir.rename(run_dir.with_name(ids[0] + ".litexp-removing-0a1b"))
    assert cli("doctor", "--uri", str(root)).returncode == 0


def test_a_folder_that_is_not_a_store_is_refused_and_nothing_is_moved(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    for name in ("bash_jobs.0", "notes", "42"):
        (folder / name).mkdir(parents=True)
    (folder / "notes" / "meta.yaml").write_text("title: not an experiment\n")
    _age(*folder.iterdir())
    before = sorted(p.name for p in folder.rglob("*"))
    for options in ((), ("--fix",), ("--fix", "--format", "json")):
        message = failed("doctor", "--uri", str(folder), *options)
        assert str(folder) in message and "does not look like an mlruns store" in message and ".trash" in message
    assert sorted(p.name for p in folder.rglob("*")) == before

    import litexp
    from litexp.errors import InvalidInputError

    try:
        litexp.doctor(str(folder), fix=True)
    except InvalidInputError:
        pass
    else:
        raise AssertionError("doctor took a plain folder for a store")
    assert sorted(p.name for p in folder.rglob("*")) == before

    # a store that lost its .trash folder is still one: an experiment's meta.yaml says so
    root = tmp_path / "mlruns"
    make_store(root, runs=1)
    (root / ".trash").rmdir()
    assert ok("doctor", "--uri", str(root)).strip() == f"no problems found in {root}"


def test_the_check_lists_what_fix_repairs_in_a_run_whose_meta_is_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=2)
    run = _experiment_dir(root, "alpha") / ids[0]
    meta = run / "meta.yaml"
    meta.write_bytes(meta.read_bytes() + b"broken: [unclosed\n")  # YAML's error spans several lines
    blob = run / "params" / "blob"
    blob.write_bytes(b"\xff\xfe")
    metric = run / "metrics" / "ic"
    metric.write_bytes(metric.read_bytes() + b"17000")
    _age(meta, blob, metric)

    rows = json.loads(_doctor(root, "--format", "json", code=1))
    assert sorted((row["kind"], row["run_id"]) for row in rows) == [
        ("bad-file", ids[0]),
        ("run-meta", ids[0]),
        ("torn-metric", ids[0]),
    ]
    assert all("\n" not in row["message"] and "\n" not in row["fix"] for row in rows)
    assert "cannot be parsed" in next(row["message"] for row in rows if row["kind"] == "run-meta")
    text = _doctor(root, code=1)
    assert text.rstrip().endswith("`litexp doctor --fix` repairs 3")

    text = _doctor(root, "--fix", code=0)
    assert text.rstrip().endswith(f"3 problems in {root}: 3 repaired, 0 left")
    assert (run / ".litexp-doctor" / "params" / "blob").read_bytes() == b"\xff\xfe"
    assert (run / ".litexp-doctor" / "metrics" / "ic.cut").read_bytes() == b"17000\n"
    assert _doctor(root, code=0).strip() == f"no problems found in {root}"
    runs = _mlflow_reads_everything(root)
    assert set(runs) == set(ids) and len(runs[ids[0]]["ic"]) == 5


def test_a_folder_without_meta_yaml_is_a_stray_unless_it_is_new_reserved_or_holds_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "mlruns"
    ids = make_store(root, runs=1)
    stray = root / "strayfolder"
    (stray / "tags").mkdir(parents=True)
    (stray / "tags" / "note").write_text("keep me")
    trashed = root / ".trash" / "424242"
    trashed.mkdir()
    models = root / "models"  # MLflow's model registry
    models.mkdir()
    _age(stray, trashed, models)
    new = root / "535353"  # an experiment being created: its meta.yaml comes next
    new.mkdir()
    # an experiment that lost its meta.yaml but holds a run: rebuilt, not moved away
    lost, orphan = root / "616161", "0123456789abcdef0123456789abcdef"
    (lost / orphan).mkdir(parents=True)
    source = _experiment_dir(root, "alpha") / ids[0]
    text = (source / "meta.yaml").read_text().replace(source.parent.name, lost.name).replace(ids[0], orphan)
    (lost / orphan / "meta.yaml").write_text(text)
    for sub in ("metrics", "params", "artifacts"):
        (lost / orphan / sub).mkdir()
    _age(lost)

    rows = json.loads(_doctor(root, "--format", "json", code=1))
    assert sorted((row["kind"], row["path"]) for row in rows) == [
        ("experiment-meta", str(lost / "meta.yaml")),
        ("stray-folder", str(trashed)),
        ("stray-folder", str(stray)),
    ]
    assert all(row["fixed"] is False for row in rows)
    listed = cli("experiments", "--uri", str(root))
    assert "skipping" in listed.stderr  # litexp warns about the stray folder

    fixed = json.loads(_doctor(root, "--fix", "--format", "json", code=0))
    assert len(fixed) == 3 and all(row["fixed"] for row in fixed)
    assert (root / ".litexp-doctor.trash" / "strayfolder" / "tags" / "note").read_text() == "keep me"
    assert (root / ".litexp-doctor.trash" / ".trash" / "424242").is_dir()
    assert not stray.exists() and not trashed.exists() and models.is_dir() and new.is_dir()
    assert yaml.safe_load((lost / "meta.yaml").read_text())["name"] == f"recovered-{lost.name}"

    new.rmdir()  # the experiment being created did not come: leave MLflow a store without strays
    caplog.clear()
    runs = _mlflow_reads_everything(root)
    assert set(runs) == {ids[0], orphan}
    assert not [r for r in caplog.records if "Malformed experiment" in r.getMessage()]
    listed = cli("experiments", "--view", "all", "--uri", str(root))
    assert listed.returncode == 0 and listed.stderr == "" and f"recovered-{lost.name}" in listed.stdout
