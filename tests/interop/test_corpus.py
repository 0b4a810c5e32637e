"""litexp reads stores written by real MLflow releases exactly as those releases report them.

``tests/data/corpus/<version>/`` holds a store written with MLflow ``<version>``'s own API
and, in ``expected.json``, what that release reported about it (``tools/make_corpus.py``
rebuilds both). Each store is copied to a new place first, so every test also proves that
a moved store (whose ``artifact_uri`` paths no longer exist) is read from its own folders.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List

import pytest
from interop_support import (
    CORPUS,
    READER_VERSIONS,
    diff_views,
    known_differences,
    litexp_view,
    load_tool,
    runs_of_deleted_experiments,
    same_value,
)

from litexp import ExpAlreadyExistError, FileExpManager, QlibRecorder
from litexp.store import FileStore, ViewType

VERSIONS = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file()) if CORPUS.is_dir() else []
make_corpus = load_tool("make_corpus")


class Corpus:
    """One relocated corpus store and what its MLflow reported."""

    def __init__(self, version: str, root: Path, expected: Dict[str, Any]) -> None:
        self.version = version
        self.root = root
        self.expected = expected
        self.uri = "file:" + str(root)

    def runs(self, *, active: bool = False) -> List[Dict[str, Any]]:
        return [r for r in self.expected["runs"] if not active or r["info"]["lifecycle_stage"] == "active"]

    def run(self, name: str) -> Dict[str, Any]:
        (found,) = [r for r in self.expected["runs"] if r["info"]["run_name"] == name]
        return found

    def active_experiments(self) -> List[Dict[str, Any]]:
        return [e for e in self.expected["experiments"] if e["lifecycle_stage"] == "active"]


@pytest.fixture(scope="module", params=VERSIONS)
def corpus(request: Any, tmp_path_factory: Any) -> Corpus:
    """The corpus store of one MLflow version, copied to a fresh folder with its empty folders."""
    source = CORPUS / request.param
    root = tmp_path_factory.mktemp(f"corpus-{request.param}") / "moved" / "mlruns"
    shutil.copytree(source / "store", root)
    for rel in json.loads((source / "dirs.json").read_text(encoding="utf-8")):
        (root / rel).mkdir(parents=True, exist_ok=True)
    expected = json.loads((source / "expected.json").read_text(encoding="utf-8"))
    return Corpus(request.param, root, expected)


@pytest.fixture
def R(corpus: Corpus) -> QlibRecorder:
    return QlibRecorder(FileExpManager(corpus.uri, "Experiment"))


def test_corpus_holds_every_proven_version() -> None:
    assert set(READER_VERSIONS) <= set(VERSIONS), f"rebuild with tools/make_corpus.py; have {VERSIONS}"


def test_corpus_stays_small() -> None:
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert total < 400 * 1024


def test_corpus_was_written_by_its_version(corpus: Corpus) -> None:
    assert corpus.expected["mlflow_version"] == corpus.version


def test_corpus_is_relocated(corpus: Corpus) -> None:
    """The recorded artifact URIs point to where MLflow wrote the store, not to the copy."""
    uri = corpus.run("parent run")["info"]["artifact_uri"]
    assert uri.startswith("file://")
    assert not uri.startswith(Path(corpus.root).as_uri())


# ------------------------------------------------------------- the store, as FileStore
def _diffs(corpus: Corpus, section_filter: str) -> List[str]:
    found = diff_views(corpus.expected, litexp_view(corpus.root), skip=known_differences(corpus.expected))
    return [d for d in found if section_filter in d]


def test_experiments_match(corpus: Corpus) -> None:
    assert _diffs(corpus, "experiments[") == []


def test_every_run_is_listed(corpus: Corpus) -> None:
    store = FileStore(str(corpus.root))
    ids = [e["experiment_id"] for e in corpus.expected["experiments"]]
    listed = sorted(r.run_id for r in store.load_runs(ids, ViewType.ALL))
    assert listed == sorted(r["info"]["run_id"] for r in corpus.runs())
    active = sorted(r.run_id for r in store.load_runs(ids, ViewType.ACTIVE_ONLY))
    assert active == sorted(r["info"]["run_id"] for r in corpus.runs(active=True))


@pytest.mark.parametrize("part", ["info", "params", "metrics", "tags", "datasets"])
def test_run_data_matches(corpus: Corpus, part: str) -> None:
    problems = [d for d in _diffs(corpus, "runs[") if f"].{part}" in d and "metric_history" not in d]
    assert problems == []


def test_metric_histories_match(corpus: Corpus) -> None:
    assert _diffs(corpus, ".metric_history") == []


def test_artifact_listings_match(corpus: Corpus) -> None:
    assert _diffs(corpus, ".artifacts") == []


def test_artifacts_of_a_deleted_experiment(corpus: Corpus) -> None:
    """MLflow lists nothing (its artifact_uri names the folder before the move to .trash);
    litexp lists the run folder's artifacts. A known, documented difference."""
    (run_id,) = runs_of_deleted_experiments(corpus.expected)
    (run,) = [r for r in corpus.runs() if r["info"]["run_id"] == run_id]
    assert run["artifacts"] == []
    listed = FileStore(str(corpus.root)).list_artifacts(run_id)
    assert [(e.path, e.is_dir) for e in listed] == [("notes.txt", False)]


def test_search_order_matches(corpus: Corpus) -> None:
    assert _diffs(corpus, "search_order") == []


def test_get_run_matches(corpus: Corpus) -> None:
    store = FileStore(str(corpus.root))
    for run in corpus.runs():
        record = store.get_run(run["info"]["run_id"])
        assert record.status == run["info"]["status"]
        assert record.lifecycle_stage == run["info"]["lifecycle_stage"]
        assert record.params == run["params"]
        assert record.tags == run["tags"]
        assert sorted(record.metrics) == sorted(run["metrics"])
        for key, value in run["metrics"].items():
            assert same_value(record.metrics[key], value), key


def test_special_values_survive(corpus: Corpus) -> None:
    """NaN, +inf and -inf and the latest-of-repeated-steps rule, spelled out."""
    metrics = corpus.run("parent run")["metrics"]
    assert metrics["val.score"] == "-Infinity"
    assert metrics["metric with space"] == "NaN"
    assert metrics["train/acc"] == 0.3
    assert metrics["late/older"] == 2.0
    assert metrics["odd steps"] == 5.0
    record = FileStore(str(corpus.root)).get_run(corpus.run("parent run")["info"]["run_id"])
    assert record.metrics["val.score"] == -math.inf
    assert math.isnan(record.metrics["metric with space"])


def test_dataset_input_is_read(corpus: Corpus) -> None:
    datasets = corpus.run("parent run")["datasets"]
    if corpus.version.startswith("1."):
        assert datasets == []
        pytest.skip(f"MLflow {corpus.version} has no mlflow.log_input")
    assert [(d["name"], d["context"]) for d in datasets] == [("prices", "training")]
    record = FileStore(str(corpus.root)).get_run(corpus.run("parent run")["info"]["run_id"])
    assert [(d.name, d.digest, d.context) for d in record.datasets] == [
        (d["name"], d["digest"], d["context"]) for d in datasets
    ]


# ------------------------------------------------------------------- through the API
def test_list_experiments(corpus: Corpus, R: QlibRecorder) -> None:
    listed = R.list_experiments()
    assert sorted(listed) == sorted(e["name"] for e in corpus.active_experiments())
    for exp in corpus.active_experiments():
        assert listed[exp["name"]].id == exp["experiment_id"]


def _deleted_experiment(corpus: Corpus) -> Dict[str, Any]:
    (deleted,) = [e for e in corpus.expected["experiments"] if e["lifecycle_stage"] == "deleted"]
    return deleted


def test_deleted_experiment_is_hidden_by_name(corpus: Corpus, R: QlibRecorder) -> None:
    deleted = _deleted_experiment(corpus)
    with pytest.raises(ValueError):
        R.get_exp(experiment_name=deleted["name"], create=False)
    with pytest.raises(ValueError):
        R.list_recorders(experiment_name=deleted["name"])


def test_deleted_experiment_is_hidden_by_id(corpus: Corpus, R: QlibRecorder) -> None:
    with pytest.raises(ValueError):
        R.get_exp(experiment_id=_deleted_experiment(corpus)["experiment_id"], create=False)


def test_deleted_experiment_name_is_not_reused(corpus: Corpus, R: QlibRecorder) -> None:
    """As in MLflow, starting under a deleted experiment's name is refused; nothing is written."""
    deleted = _deleted_experiment(corpus)
    try:
        with pytest.raises((ValueError, ExpAlreadyExistError)):
            with R.start(experiment_name=deleted["name"]):
                R.log_metrics(x=1.0)
    finally:
        R.end_exp("FAILED")
    assert not (corpus.root / deleted["experiment_id"]).exists()


def test_list_recorders_in_mlflow_order(corpus: Corpus, R: QlibRecorder) -> None:
    for exp in corpus.active_experiments():
        recorders = R.get_exp(experiment_id=exp["experiment_id"], create=False).list_recorders(rtype="list")
        assert [r.id for r in recorders] == corpus.expected["active_search_order"][exp["experiment_id"]]


def _local(ms: Any) -> Any:
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0).strftime("%Y-%m-%d %H:%M:%S")


def test_recorders_report_what_mlflow_reports(corpus: Corpus, R: QlibRecorder) -> None:
    active_ids = {e["experiment_id"] for e in corpus.active_experiments()}
    for run in corpus.runs(active=True):
        info = run["info"]
        if info["experiment_id"] not in active_ids:
            continue
        rec = R.get_recorder(recorder_id=info["run_id"], experiment_id=info["experiment_id"])
        assert rec.info == {
            "class": "Recorder",
            "id": info["run_id"],
            "name": info["run_name"],
            "experiment_id": info["experiment_id"],
            "start_time": _local(info["start_time"]),
            "end_time": _local(info["end_time"]),
            "status": info["status"],
        }
        assert rec.list_params() == run["params"]
        assert rec.list_tags() == run["tags"]
        metrics = rec.list_metrics()
        assert sorted(metrics) == sorted(run["metrics"])
        assert all(same_value(metrics[k], v) for k, v in run["metrics"].items())
        for key, history in run["metric_history"].items():
            got = [[p.timestamp, p.value, p.step] for p in rec.get_metric_history(key)]
            assert len(got) == len(history), key
            for (ts, value, step), (ets, evalue, estep) in zip(got, history):
                assert (ts, step) == (ets, estep) and same_value(value, evalue), key
        top = [path for path, _, _ in run["artifacts"] if "/" not in path]
        assert rec.list_artifacts() == top
        for path, is_dir, _ in run["artifacts"]:
            if is_dir:
                children = [
                    p for p, _, _ in run["artifacts"] if p.startswith(path + "/") and "/" not in p[len(path) + 1 :]
                ]
                assert rec.list_artifacts(path) == children
        assert Path(rec.get_local_dir()) == corpus.root / info["experiment_id"] / info["run_id"]


def test_deleted_run_is_hidden_from_recorders(corpus: Corpus, R: QlibRecorder) -> None:
    info = corpus.run("deleted run")["info"]
    exp = R.get_exp(experiment_id=info["experiment_id"], create=False)
    assert info["run_id"] not in exp.list_recorders()
    with pytest.raises(ValueError):
        exp.get_recorder(recorder_id=info["run_id"], create=False)


def test_load_object_written_by_mlflow(corpus: Corpus, R: QlibRecorder) -> None:
    info = corpus.run("parent run")["info"]
    rec = R.get_recorder(recorder_id=info["run_id"], experiment_id=info["experiment_id"])
    assert rec.load_object("objects/pred.pkl") == make_corpus.PICKLED_OBJECT


def test_download_artifact_from_moved_store(corpus: Corpus, R: QlibRecorder, tmp_path: Path) -> None:
    info = corpus.run("parent run")["info"]
    rec = R.get_recorder(recorder_id=info["run_id"], experiment_id=info["experiment_id"])
    path = rec.download_artifact("plots", str(tmp_path))
    assert (Path(path) / "sub" / "figure.txt").read_text(encoding="utf-8") == "a nested artifact\n"
    assert Path(rec.download_artifact("texts/hello.txt", str(tmp_path))).read_text(encoding="utf-8") == (
        "hello from log_text\n"
    )


def test_search_records_frame(corpus: Corpus, R: QlibRecorder) -> None:
    ids = [e["experiment_id"] for e in corpus.expected["experiments"]]
    frame = R.search_records(ids, run_view_type=ViewType.ALL)
    assert sorted(frame["run_id"]) == sorted(r["info"]["run_id"] for r in corpus.runs())
    by_id = {r["info"]["run_id"]: r for r in corpus.runs()}
    for _, row in frame.iterrows():
        run = by_id[row["run_id"]]
        assert row["status"] == run["info"]["status"]
        assert row["experiment_id"] == run["info"]["experiment_id"]
        for key, value in run["metrics"].items():
            assert same_value(row["metrics." + key], value)
        for key, value in run["params"].items():
            assert row["params." + key] == value
        for key, value in run["tags"].items():
            assert row["tags." + key] == value
    for exp_id in ids:
        frame = R.search_records([exp_id], run_view_type=ViewType.ALL)
        assert list(frame["run_id"]) == corpus.expected["search_order"][exp_id]


def test_filter_on_corpus(corpus: Corpus, R: QlibRecorder) -> None:
    main = R.get_exp(experiment_name="corpus main", create=False)
    frame = main.search_records(filter_string="attributes.status = 'FAILED'")
    assert list(frame["run_id"]) == [corpus.run("failed run")["info"]["run_id"]]
    frame = main.search_records(filter_string="params.`param with space` = 'yes'")
    assert list(frame["run_id"]) == [corpus.run("parent run")["info"]["run_id"]]


def test_the_store_is_not_modified_by_reading(corpus: Corpus, R: QlibRecorder) -> None:
    """Reading changes nothing MLflow wrote and adds no folder (litexp's own cache files aside)."""

    def snapshot() -> Dict[str, Any]:
        return {
            str(p.relative_to(corpus.root)): (p.is_dir(), None if p.is_dir() else p.read_bytes())
            for p in corpus.root.rglob("*")
            if not p.name.startswith(".litexp")
        }

    before = snapshot()
    litexp_view(corpus.root)
    R.search_records([e["experiment_id"] for e in corpus.expected["experiments"]])
    assert snapshot() == before
