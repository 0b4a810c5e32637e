"""litexp and the real MLflow read each other's ``mlruns`` stores, and ``mlflow
migrate-filestore`` turns a litexp store into an equal SQLite store."""

from __future__ import annotations

import getpass
import pickle
import shutil
import time
from datetime import datetime
from pathlib import Path

from optional_support import requires

mlflow = requires("mlflow", "these tests compare litexp with MLflow's own code")
import compat_support as cs
import pytest
from compat_support import (
    DEFAULT_NAME,
    DOOMED,
    MAIN,
    MLF_DOOMED,
    MLF_FLUENT,
    MLF_MAIN,
    float_dict,
    float_key,
    latest_of,
    points,
    sql_float,
)
from mlflow.entities import ViewType as MlflowViewType
from mlflow.tracking import MlflowClient

from litexp import FileExpManager, QlibRecorder, Recorder
from litexp.store import FileStore, ViewType

assert mlflow.__version__  # MLflow is required: without it this module fails, it never skips

LITEXP_RUNS = [
    "rich",
    "failed",
    "killed",
    "scheduled",
    "resumed",
    "self-deleted",
    "deleted-default",
    "implicit",
    "doomed-a",
    "doomed-b",
    "doomed-c",
    "running-exp",
    "running-bare",
    "zero",
]
MLFLOW_RUNS = ["ok", "failed", "killed", "running", "deleted", "doomed", "parent", "child"]


def stage(deleted: bool) -> str:
    return "deleted" if deleted else "active"


def fmt_time(ms):
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0).strftime("%Y-%m-%d %H:%M:%S")


def exp_fields(e):
    """What MLflow's Experiment and litexp's ExperimentRecord both carry."""
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": dict(e.tags),
    }


def mlflow_info_fields(run):
    i = run.info
    return {
        "run_id": i.run_id,
        "experiment_id": i.experiment_id,
        "run_name": i.run_name,
        "user_id": i.user_id,
        "status": i.status,
        "start_time": i.start_time,
        "end_time": i.end_time,
        "artifact_uri": i.artifact_uri,
        "lifecycle_stage": i.lifecycle_stage,
    }


def litexp_info_fields(rec):
    return {
        "run_id": rec.run_id,
        "experiment_id": rec.experiment_id,
        "run_name": rec.run_name,
        "user_id": rec.user_id,
        "status": rec.status,
        "start_time": rec.start_time,
        "end_time": rec.end_time,
        "artifact_uri": rec.artifact_uri,
        "lifecycle_stage": rec.lifecycle_stage,
    }


def run_ids(runs):
    return sorted(r.info.run_id for r in runs)


def download(client, run_id, path, dst):
    """MLflow's download_artifacts into ``dst`` (which MLflow wants to exist already)."""
    Path(dst).mkdir(parents=True, exist_ok=True)
    return client.download_artifacts(run_id, path, str(dst))


def read_everything(client):
    """Open every experiment, run, metric history and artifact listing the way MLflow's UI does."""
    opened = 0
    for exp in client.search_experiments(view_type=MlflowViewType.ALL):
        client.get_experiment(exp.experiment_id)
        for run in client.search_runs([exp.experiment_id], run_view_type=MlflowViewType.ALL):
            full = client.get_run(run.info.run_id)
            for key in full.data.metrics:
                assert client.get_metric_history(run.info.run_id, key)
            client.list_artifacts(run.info.run_id)
            opened += 1
    return opened


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lx(tmp_path_factory):
    """A store written by litexp only."""
    return cs.build_litexp_store(tmp_path_factory.mktemp("litexp-written"))


@pytest.fixture(scope="module")
def lx_client(lx):
    return MlflowClient(tracking_uri=lx.uri)


@pytest.fixture(scope="module")
def lx_store(lx):
    return FileStore(str(lx.root))


@pytest.fixture(scope="module")
def lx_R(lx):
    return QlibRecorder(FileExpManager(lx.uri, DEFAULT_NAME))


@pytest.fixture(scope="module")
def migrated(lx, tmp_path_factory):
    """The litexp store copied with leftover litexp temporary files, then migrated to SQLite."""
    base = tmp_path_factory.mktemp("migrate")
    source = base / "source"
    shutil.copytree(lx.root, source / "mlruns", symlinks=True)
    root = source / "mlruns"
    temps = cs.inject_leftover_temp_files(root)
    db = base / "mlflow.db"
    result = cs.run_migrate(source, db)
    return {
        "root": root,
        "db": db,
        "temps": temps,
        "result": result,
        "file": MlflowClient(tracking_uri="file:" + str(root)),
        "sql": MlflowClient(tracking_uri=f"sqlite:///{db}") if result.returncode == 0 else None,
    }


@pytest.fixture(scope="module")
def mf(tmp_path_factory):
    """A store written by MLflow only."""
    return cs.build_mlflow_store(tmp_path_factory.mktemp("mlflow-written"))


@pytest.fixture(scope="module")
def mf_client(mf):
    return MlflowClient(tracking_uri=mf.uri)


@pytest.fixture(scope="module")
def mf_store(mf):
    return FileStore(str(mf.root))


@pytest.fixture(scope="module")
def mf_R(mf):
    return QlibRecorder(FileExpManager(mf.uri, DEFAULT_NAME))


# ================================================================ litexp -> MLflow


def test_litexp_experiments_read_by_mlflow(lx, lx_client, lx_store):
    seen = {e.name: e for e in lx_client.search_experiments(view_type=MlflowViewType.ALL)}
    assert set(seen) == set(lx.experiments)
    for name, expected in lx.experiments.items():
        exp = seen[name]
        assert exp.experiment_id == expected.experiment_id
        assert int(exp.experiment_id) >= 0
        assert exp.lifecycle_stage == stage(expected.deleted)
        assert dict(exp.tags) == expected.tags
        assert exp_fields(lx_client.get_experiment(expected.experiment_id)) == exp_fields(exp)
        assert lx_client.get_experiment_by_name(name).experiment_id == expected.experiment_id
        assert exp_fields(lx_store.get_experiment(expected.experiment_id)) == exp_fields(exp)
    active = {e.name for e in lx_client.search_experiments(view_type=MlflowViewType.ACTIVE_ONLY)}
    deleted = {e.name for e in lx_client.search_experiments(view_type=MlflowViewType.DELETED_ONLY)}
    assert active == {n for n, e in lx.experiments.items() if not e.deleted}
    assert deleted == {n for n, e in lx.experiments.items() if e.deleted} == {DOOMED}
    assert (lx.root / ".trash" / lx.experiments[DOOMED].experiment_id / "meta.yaml").is_file()
    assert sorted(exp_fields(e)["experiment_id"] for e in lx_store.list_experiments(ViewType.ALL)) == sorted(
        e.experiment_id for e in seen.values()
    )


def test_litexp_runs_listed_by_mlflow(lx, lx_client, lx_store):
    for name, exp in lx.experiments.items():
        expected = lx.runs_of(name)
        for view, keep in (
            (MlflowViewType.ALL, lambda r: True),
            (MlflowViewType.ACTIVE_ONLY, lambda r: not r.deleted),
            (MlflowViewType.DELETED_ONLY, lambda r: r.deleted),
        ):
            got = run_ids(lx_client.search_runs([exp.experiment_id], run_view_type=view))
            assert got == sorted(r.run_id for r in expected if keep(r)), (name, view)
            assert got == sorted(r.run_id for r in lx_store.load_runs([exp.experiment_id], view)), (name, view)


@pytest.mark.parametrize("label", LITEXP_RUNS)
def test_litexp_run_read_by_mlflow(lx, lx_client, lx_store, label):
    spec = lx.runs[label]
    run = lx_client.get_run(spec.run_id)
    record = lx_store.get_run(spec.run_id)
    info = mlflow_info_fields(run)
    assert info == litexp_info_fields(record)
    assert info["experiment_id"] == lx.experiments[spec.experiment].experiment_id
    assert info["status"] == spec.status
    assert info["run_name"] == spec.run_name
    assert info["user_id"] == getpass.getuser()
    assert info["lifecycle_stage"] == stage(spec.deleted)
    location = lx_client.get_experiment(info["experiment_id"]).artifact_location
    assert info["artifact_uri"] == f"{location}/{spec.run_id}/artifacts"
    assert location == (lx.root / info["experiment_id"]).as_uri()
    low, high = lx.window
    assert low <= info["start_time"] <= high
    if spec.status == "RUNNING":
        assert info["end_time"] is None
    else:
        assert info["start_time"] <= info["end_time"] <= high
    assert run.data.params == spec.params == record.params
    assert run.data.tags == spec.tags == record.tags


@pytest.mark.parametrize("label", LITEXP_RUNS)
def test_litexp_recorder_api_agrees_with_mlflow(lx, lx_client, lx_store, label):
    spec = lx.runs[label]
    run = lx_client.get_run(spec.run_id)
    recorder = Recorder(run.info.experiment_id, lx.uri, run=lx_store.get_run(spec.run_id))
    assert recorder.id == spec.run_id
    assert recorder.name == run.info.run_name
    assert recorder.status == run.info.status
    assert recorder.info["start_time"] == fmt_time(run.info.start_time)
    assert recorder.info["end_time"] == fmt_time(run.info.end_time)
    assert recorder.get_artifact_uri() == run.info.artifact_uri
    assert float_dict(recorder.list_metrics()) == float_dict(run.data.metrics)
    assert recorder.list_params() == run.data.params
    assert recorder.list_tags() == run.data.tags


@pytest.mark.parametrize("label", LITEXP_RUNS)
def test_litexp_latest_metrics_read_by_mlflow(lx, lx_client, lx_store, label):
    spec = lx.runs[label]
    expected = {key: latest_of(pts) for key, pts in spec.metrics.items()}
    assert float_dict(lx_client.get_run(spec.run_id).data.metrics) == float_dict(expected)
    assert float_dict(lx_store.get_run(spec.run_id).metrics) == float_dict(expected)


@pytest.mark.parametrize("label", LITEXP_RUNS)
def test_litexp_metric_histories_read_by_mlflow(lx, lx_client, lx_store, label):
    spec = lx.runs[label]
    low, high = lx.window
    for key, logged in spec.metrics.items():
        seen = lx_client.get_metric_history(spec.run_id, key)
        assert points(seen) == points(lx_store.get_metric_history(spec.run_id, key)), key
        assert [(float_key(m.value), m.step) for m in seen] == [(float_key(v), s) for v, s in logged], key
        stamps = [m.timestamp for m in seen]
        assert all(isinstance(t, int) and low <= t <= high for t in stamps), key
        assert stamps == sorted(stamps), key
        assert all(m.key == key for m in seen)


def test_litexp_special_metric_values_reach_mlflow(lx, lx_client):
    run_id = lx.runs["rich"].run_id
    latest = lx_client.get_run(run_id).data.metrics
    assert float_key(latest["ends_nan"]) == "nan"
    assert latest["ends_inf"] == float("inf")
    assert latest["ends_-inf"] == float("-inf")
    assert latest["rep"] == 2.0
    assert latest["backwards"] == 10.0
    assert latest["nostep"] == 2.0
    assert latest["extremes"] == 42.0
    assert latest["many"] == (cs.MANY_POINTS - 1) * 0.001
    many = lx_client.get_metric_history(run_id, "many")
    assert [m.step for m in many] == list(range(cs.MANY_POINTS))
    rep = lx_client.get_metric_history(run_id, "rep")
    assert [(m.value, m.step) for m in rep] == [(1.0, 5), (3.0, 5), (2.0, 5)]
    extremes = [float_key(m.value) for m in lx_client.get_metric_history(run_id, "extremes")]
    assert extremes[:5] == ["1e+308", "5e-324", "-0.0", "0.30000000000000004", "1.2345678901234568e+17"]
    assert [m.step for m in lx_client.get_metric_history(run_id, "extremes")][-2:] == [-5, 2**40]
    for key in (
        "train/loss",
        "val.ic",
        "with space",
        "ic:rank",
        "top-k",
        "a/b.c d:e-f",
        "x/y/z",
        "ünï_métrïc",
        "m" * 200,
    ):
        assert key in latest
    tags = lx_client.get_run(run_id).data.tags
    assert "temporary" not in tags and tags["long"] == "y" * 8000


@pytest.mark.parametrize("label", LITEXP_RUNS)
def test_litexp_artifacts_read_by_mlflow(lx, lx_client, lx_store, label, tmp_path):
    spec = lx.runs[label]
    tree = cs.mlflow_tree(lx_client, spec.run_id)
    assert tree == cs.litexp_tree(lx_store, spec.run_id)
    recorder = Recorder(lx.experiments[spec.experiment].experiment_id, lx.uri, run=lx_store.get_run(spec.run_id))
    top = sorted(p for p in tree if "/" not in p)
    assert sorted(recorder.list_artifacts()) == top
    mlflow_dir = Path(download(lx_client, spec.run_id, "", tmp_path / "by-mlflow"))
    downloaded = cs.files_below(mlflow_dir)
    assert set(downloaded) == {p for p, (is_dir, _) in tree.items() if not is_dir}
    assert all(len(downloaded[p]) == size for p, (is_dir, size) in tree.items() if not is_dir)
    by_litexp = {}
    for name in top:
        recorder.download_artifact(name, str(tmp_path / "by-litexp"))
    if top:
        by_litexp = cs.files_below(tmp_path / "by-litexp")
    assert by_litexp == downloaded
    for path, content in spec.files.items():
        assert downloaded.get(path) == content, path
    for path, obj in spec.objects.items():
        assert repr(pickle.loads(downloaded[path])) == repr(obj), path
        assert repr(recorder.load_object(path)) == repr(obj), path


def test_litexp_folder_artifacts_read_by_mlflow(lx, lx_client, tmp_path):
    run_id = lx.runs["rich"].run_id
    data = lx.base / "src" / "data"
    for prefix in ("saved/data", "logged_folder/data"):
        local = download(lx_client, run_id, prefix, tmp_path / prefix.replace("/", "_"))
        assert cs.files_below(local) == cs.files_below(data), prefix
    nested = lx_client.list_artifacts(run_id, "nested/deep")
    assert [(f.path, f.is_dir) for f in nested] == [("nested/deep/path", True)]
    single = download(lx_client, run_id, "nested/deep/path/report.txt", tmp_path / "single")
    assert Path(single).read_bytes() == (lx.base / "src" / "report.txt").read_bytes()


def test_litexp_statuses_read_by_mlflow(lx, lx_client):
    seen = {}
    for exp in lx.experiments.values():
        for run in lx_client.search_runs([exp.experiment_id], run_view_type=MlflowViewType.ALL):
            seen[run.info.run_id] = (run.info.status, run.info.lifecycle_stage)
    assert seen == {r.run_id: (r.status, stage(r.deleted)) for r in lx.runs.values()}
    assert {s for s, _ in seen.values()} == set(cs.RUN_STATUSES)
    running = lx_client.search_runs([lx.experiments[MAIN].experiment_id], filter_string="attributes.status = 'RUNNING'")
    assert run_ids(running) == sorted([lx.runs["running-exp"].run_id, lx.runs["running-bare"].run_id])


def test_litexp_resumed_run_read_by_mlflow(lx, lx_client):
    spec = lx.runs["resumed"]
    run = lx_client.get_run(spec.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.start_time == spec.start_time
    assert run.info.end_time > spec.end_time
    history = lx_client.get_metric_history(spec.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert run.data.params["before_resume"] == "1" and run.data.params["after_resume"] == "2"
    assert run.data.tags["resumed"] == "yes"
    assert run.data.metrics["loss"] == 1.0 / 5


def test_litexp_deleted_experiment_read_by_mlflow(lx, lx_client):
    exp_id = lx.experiments[DOOMED].experiment_id
    exp = lx_client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    assert exp.last_update_time >= exp.creation_time
    runs = lx_client.search_runs([exp_id], run_view_type=MlflowViewType.ALL)
    assert {r.info.run_name for r in runs} == {"doomed-a", "doomed-b", "doomed-c"}
    assert {r.info.lifecycle_stage for r in runs} == {"deleted"}
    assert lx_client.search_runs([exp_id], run_view_type=MlflowViewType.ACTIVE_ONLY) == []


def test_litexp_R_listing_agrees_with_mlflow(lx, lx_client, lx_R):
    active = {e.name: e.experiment_id for e in lx_client.search_experiments(view_type=MlflowViewType.ACTIVE_ONLY)}
    assert {name: exp.id for name, exp in lx_R.list_experiments().items()} == active
    for name in (MAIN, DEFAULT_NAME):
        runs = {r.info.run_id: r for r in lx_client.search_runs([active[name]])}
        listed = lx_R.list_recorders(experiment_name=name)
        assert set(listed) == set(runs)
        assert {i: (rec.name, rec.status) for i, rec in listed.items()} == {
            i: (r.info.run_name, r.info.status) for i, r in runs.items()
        }
        starts = [runs[i].info.start_time for i in listed]
        assert starts == sorted(starts, reverse=True)
    recorder = lx_R.get_recorder(recorder_id=lx.runs["rich"].run_id, experiment_name=MAIN)
    assert recorder.list_params() == lx_client.get_run(recorder.id).data.params


SEARCHES = [
    ("", None),
    ("metrics.loss < 0.6", None),
    ("metrics.`train/loss` > 1", None),
    ("metrics.ends_nan != 1", None),
    ("metrics.`val.ic` < 0", None),
    ("metrics.extremes >= 42", None),
    ("params.lr = '0.01'", None),
    ("params.`model/kwargs.lr` = '3e-4' and tags.stage = 'prod'", None),
    ("tags.`tag.with:chars - ok` = 'yes'", None),
    ("attributes.status = 'RUNNING'", None),
    ("attributes.status != 'FINISHED'", None),
    ("attributes.run_name LIKE 'doomed%'", None),
    ("tags.`mlflow.runName` ILIKE '%RUN%'", None),
    ("params.p IS NULL", None),
    ("", ["metrics.loss DESC"]),
    ("", ["attributes.run_name ASC"]),
    ("metrics.loss >= 0", ["params.p DESC", "attributes.start_time ASC"]),
]


@pytest.mark.parametrize("filter_string, order_by", SEARCHES)
def test_litexp_search_records_selects_like_mlflow(lx, lx_client, lx_R, filter_string, order_by):
    ids = [e.experiment_id for e in lx.experiments.values()]
    theirs = lx_client.search_runs(ids, filter_string, run_view_type=MlflowViewType.ALL, order_by=order_by)
    frame = lx_R.search_records(ids, filter_string=filter_string, run_view_type=3, order_by=order_by)
    assert list(frame["run_id"]) == [r.info.run_id for r in theirs]


# ================================================================ migrate-filestore


def test_migrate_filestore_accepts_litexp_store(migrated):
    result = migrated["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Migration summary" in result.stdout
    assert (migrated["root"] / ".litexp.lock").is_file()
    assert migrated["temps"] and all(p.is_file() for p in migrated["temps"])


def test_migrated_experiments_equal_file_store(lx, migrated):
    sql, files = migrated["sql"], migrated["file"]
    assert sql is not None, "migration failed"
    in_sql = {e.experiment_id: exp_fields(e) for e in sql.search_experiments(view_type=MlflowViewType.ALL)}
    in_files = {e.experiment_id: exp_fields(e) for e in files.search_experiments(view_type=MlflowViewType.ALL)}
    assert in_sql == in_files
    assert {e["name"] for e in in_sql.values()} == set(lx.experiments)
    for exp_id in in_files:
        assert exp_fields(sql.get_experiment(exp_id)) == in_files[exp_id]


def test_migrated_runs_equal_file_store(lx, migrated):
    sql, files = migrated["sql"], migrated["file"]
    assert sql is not None, "migration failed"
    checked = 0
    for exp in files.search_experiments(view_type=MlflowViewType.ALL):
        ids = [exp.experiment_id]
        for view in (MlflowViewType.ALL, MlflowViewType.ACTIVE_ONLY, MlflowViewType.DELETED_ONLY):
            assert run_ids(sql.search_runs(ids, run_view_type=view)) == run_ids(
                files.search_runs(ids, run_view_type=view)
            ), (exp.name, view)
        for run in files.search_runs(ids, run_view_type=MlflowViewType.ALL):
            run_id = run.info.run_id
            want, got = files.get_run(run_id), sql.get_run(run_id)
            assert mlflow_info_fields(got) == mlflow_info_fields(want)
            assert got.data.params == want.data.params
            assert got.data.tags == want.data.tags
            assert {k: float_key(sql_float(v)) for k, v in got.data.metrics.items()} == {
                k: float_key(sql_float(v)) for k, v in want.data.metrics.items()
            }
            for key in want.data.metrics:

                def norm(hist: list) -> list:
                    return sorted((float_key(sql_float(m.value)), m.timestamp, m.step) for m in hist)

                assert norm(sql.get_metric_history(run_id, key)) == norm(files.get_metric_history(run_id, key)), key
            checked += 1
    assert checked == len(lx.runs)


def test_migrated_rich_run_keeps_every_point(lx, migrated):
    sql = migrated["sql"]
    assert sql is not None, "migration failed"
    spec = lx.runs["rich"]
    for key, logged in spec.metrics.items():
        history = sql.get_metric_history(spec.run_id, key)
        assert sorted((float_key(sql_float(m.value)), m.step) for m in history) == sorted(
            (float_key(sql_float(v)), s) for v, s in logged
        ), key
    run = sql.get_run(spec.run_id)
    assert run.data.params == spec.params
    assert run.data.tags == spec.tags
    assert float_key(run.data.metrics["ends_nan"]) == "nan"


def test_migrated_store_opens_in_mlflow(migrated, lx):
    assert migrated["sql"] is not None, "migration failed"
    assert read_everything(migrated["sql"]) == len(lx.runs)


# ============================================================= robustness of readers


def test_mlflow_reader_opens_every_litexp_run(lx, lx_client):
    assert read_everything(lx_client) == len(lx.runs)


def test_mlflow_reader_tolerates_litexp_lock_and_temp_files(lx, migrated):
    assert (migrated["root"] / ".litexp.lock").is_file()
    assert read_everything(migrated["file"]) == len(lx.runs)
    store = FileStore(str(migrated["root"]))
    exps = store.list_experiments(ViewType.ALL)
    assert sum(len(store.load_runs([e.experiment_id], ViewType.ALL)) for e in exps) == len(lx.runs)


def test_mlflow_reads_while_litexp_writes(R, uri):
    import threading

    client = MlflowClient(tracking_uri=uri)
    R.start_exp(experiment_name="live", recorder_name="busy")
    recorder = R.get_recorder()
    errors = []

    def write():
        try:
            for i in range(1500):
                recorder.log_metrics(step=i, **{"x": float(i), "train/y": i * 0.5})
                if i % 100 == 0:
                    recorder.set_tags(progress=str(i), **{"mlflow.runName": f"busy-{i}"})
                    recorder.log_params(**{f"p{i}": i})
                    recorder.flush()
            recorder.flush()
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    reads = 0
    while thread.is_alive() or reads < 3:
        read_everything(client)
        run = client.get_run(recorder.id)
        for key in run.data.metrics:
            history = client.get_metric_history(recorder.id, key)
            assert [m.step for m in history] == list(range(len(history)))
        reads += 1
    thread.join()
    assert not errors
    R.end_exp("FINISHED")
    run = client.get_run(recorder.id)
    assert run.info.status == "FINISHED" and run.info.run_name == "busy-1400"
    assert len(client.get_metric_history(recorder.id, "x")) == 1500
    assert {k for k in run.data.params if k.startswith("p")} == {f"p{i}" for i in range(0, 1500, 100)}


def test_litexp_continues_an_mlflow_run_and_mlflow_reads_it(R, uri, store_dir, tmp_path):
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("shared", tags={"origin": "mlflow"})
    run_a = client.create_run(exp_id, run_name="mlflow-a").info.run_id
    client.log_metric(run_a, "loss", 1.0, timestamp=cs.T0, step=0)
    client.log_metric(run_a, "loss", 0.5, timestamp=cs.T0 + 1, step=1)
    client.log_param(run_a, "p", "mlflow")
    client.set_terminated(run_a, "FINISHED")
    run_b = client.create_run(exp_id, run_name="mlflow-b").info.run_id
    client.set_terminated(run_b, "FINISHED")
    note = tmp_path / "note.txt"
    note.write_text("from litexp")

    with R.start(experiment_name="shared", recorder_id=run_a, resume=True):
        R.log_metrics(step=2, loss=0.25)
        R.log_params(q="litexp")
        R.set_tags(by="litexp")
        R.log_artifact(str(note), "notes")
    with R.start(experiment_name="shared", recorder_name="litexp-run"):
        R.delete_recorder(recorder_id=run_b)
        R.log_metrics(step=0, acc=0.9)
    FileStore(str(store_dir)).set_experiment_tag(exp_id, "owner", "litexp")
    with R.start(experiment_name="litexp-doomed", recorder_name="x"):
        R.log_metrics(x=1.0)
    R.delete_exp(experiment_name="litexp-doomed")

    assert read_everything(client) == 4
    a = client.get_run(run_a)
    assert a.info.status == "FINISHED" and a.info.run_name == "mlflow-a"
    assert [(m.value, m.step) for m in client.get_metric_history(run_a, "loss")] == [(1.0, 0), (0.5, 1), (0.25, 2)]
    assert a.data.params == {"p": "mlflow", "q": "litexp"}
    assert a.data.tags["by"] == "litexp"
    assert [f.path for f in client.list_artifacts(run_a, "notes")] == ["notes/note.txt"]
    assert client.get_run(run_b).info.lifecycle_stage == "deleted"
    assert client.get_experiment(exp_id).tags == {"origin": "mlflow", "owner": "litexp"}
    assert client.get_experiment_by_name("litexp-doomed").lifecycle_stage == "deleted"

    # and MLflow can keep writing to what litexp rewrote
    client.log_metric(run_a, "loss", 0.125, timestamp=cs.T0 + 3, step=3)
    client.set_terminated(run_a, "KILLED")
    recorder = R.get_recorder(recorder_id=run_a, experiment_name="shared")
    assert recorder.status == "KILLED"
    assert recorder.list_metrics() == {"loss": 0.125}


def test_mlflow_continues_a_litexp_run_and_litexp_reads_it(R, uri, store_dir, tmp_path):
    with R.start(experiment_name="from-litexp", recorder_name="lx"):
        R.log_metrics(step=0, loss=1.0)
        R.log_params(p="litexp")
        run_id = R.get_recorder().id
    client = MlflowClient(tracking_uri=uri)
    client.log_metric(run_id, "loss", 0.5, timestamp=cs.now_ms() + 10, step=1)
    client.log_param(run_id, "q", "mlflow")
    client.set_tag(run_id, "by", "mlflow")
    client.set_tag(run_id, "mlflow.runName", "renamed")
    note = tmp_path / "note.txt"
    note.write_text("from mlflow")
    client.log_artifact(run_id, str(note), "notes")
    client.set_terminated(run_id, "KILLED")

    recorder = R.get_recorder(recorder_id=run_id, experiment_name="from-litexp")
    assert recorder.status == "KILLED"
    assert recorder.name == "renamed" == client.get_run(run_id).info.run_name
    assert recorder.list_metrics() == {"loss": 0.5}
    assert [(p.value, p.step) for p in recorder.get_metric_history("loss")] == [(1.0, 0), (0.5, 1)]
    assert recorder.list_params()["q"] == "mlflow" and recorder.list_params()["p"] == "litexp"
    assert recorder.list_tags()["by"] == "mlflow"
    assert recorder.list_artifacts("notes") == ["notes/note.txt"]

    client.delete_run(run_id)
    with pytest.raises(ValueError):
        R.get_recorder(recorder_id=run_id, experiment_name="from-litexp")
    assert FileStore(str(store_dir)).get_run(run_id).lifecycle_stage == "deleted"


# ================================================================ MLflow -> litexp


def test_mlflow_experiments_read_by_litexp(mf, mf_client, mf_store):
    seen = {e.experiment_id: exp_fields(e) for e in mf_client.search_experiments(view_type=MlflowViewType.ALL)}
    mine = {r.experiment_id: exp_fields(r) for r in mf_store.list_experiments(ViewType.ALL)}
    assert mine == seen
    for view, mlflow_view in (
        (ViewType.ACTIVE_ONLY, MlflowViewType.ACTIVE_ONLY),
        (ViewType.DELETED_ONLY, MlflowViewType.DELETED_ONLY),
    ):
        assert sorted(r.experiment_id for r in mf_store.list_experiments(view)) == sorted(
            e.experiment_id for e in mf_client.search_experiments(view_type=mlflow_view)
        )
    for name, expected in mf.experiments.items():
        record = mf_store.get_experiment(expected.experiment_id)
        assert record.name == name
        assert record.tags == expected.tags
        assert record.lifecycle_stage == stage(expected.deleted)
        assert mf_store.find_experiment(name).experiment_id == expected.experiment_id


def test_mlflow_run_listing_read_by_litexp(mf, mf_client, mf_store):
    for exp in mf.experiments.values():
        for view in (ViewType.ALL, ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY):
            mine = sorted(r.run_id for r in mf_store.load_runs([exp.experiment_id], view))
            assert mine == run_ids(mf_client.search_runs([exp.experiment_id], run_view_type=view)), (exp.name, view)
            assert mine == sorted(mf_store.list_run_ids(exp.experiment_id, view))
        assert sorted(r.run_id for r in mf_store.load_runs([exp.experiment_id], ViewType.ALL)) == sorted(
            r.run_id for r in mf.runs_of(exp.name)
        )


@pytest.mark.parametrize("label", MLFLOW_RUNS)
def test_mlflow_run_read_by_litexp(mf, mf_client, mf_store, label):
    spec = mf.runs[label]
    run = mf_client.get_run(spec.run_id)
    record = mf_store.get_run(spec.run_id)
    assert litexp_info_fields(record) == mlflow_info_fields(run)
    assert record.status == spec.status
    assert record.run_name == spec.run_name
    assert record.lifecycle_stage == stage(spec.deleted)
    assert record.experiment_id == mf.experiments[spec.experiment].experiment_id
    if spec.start_time is not None:
        assert record.start_time == spec.start_time
    if spec.end_time is not None:
        assert record.end_time == spec.end_time
    assert float_dict(record.metrics) == float_dict(run.data.metrics)
    assert float_dict(record.metrics) == float_dict({k: latest_of(v) for k, v in spec.metrics.items()})
    assert record.params == run.data.params
    assert spec.params.items() <= record.params.items()
    assert record.tags == run.data.tags
    assert spec.tags.items() <= record.tags.items()
    datasets = [
        (d.dataset.name, d.dataset.digest, {t.key: t.value for t in d.tags}.get("mlflow.data.context"))
        for d in run.inputs.dataset_inputs
    ]
    assert [(d.name, d.digest, d.context) for d in record.datasets] == datasets


def test_mlflow_dataset_input_read_by_litexp(mf, mf_store):
    child = mf_store.get_run(mf.runs["child"].run_id)
    _, name, digest = mf.keep_alive[0]
    assert [(d.name, d.digest, d.context) for d in child.datasets] == [(name, digest, "training")]
    assert child.tags["mlflow.parentRunId"] == mf.runs["parent"].run_id


@pytest.mark.parametrize("label", MLFLOW_RUNS)
def test_mlflow_metric_histories_read_by_litexp(mf, mf_client, mf_store, label):
    spec = mf.runs[label]
    run = mf_client.get_run(spec.run_id)
    assert set(run.data.metrics) == set(spec.metrics)
    for key, logged in spec.metrics.items():
        mine = mf_store.get_metric_history(spec.run_id, key)
        assert points(mine) == points(mf_client.get_metric_history(spec.run_id, key)), key
        assert [(float_key(p.value), p.step) for p in mine] == [(float_key(v), s) for v, s in logged], key


def test_R_lists_mlflow_experiments(mf, mf_R):
    listed = mf_R.list_experiments()
    expected = {n: e.experiment_id for n, e in mf.experiments.items() if not e.deleted}
    assert {name: exp.id for name, exp in listed.items()} == expected


def test_R_lists_mlflow_recorders_newest_first(mf, mf_client, mf_R):
    for name in (MLF_MAIN, MLF_FLUENT):
        exp_id = mf.experiments[name].experiment_id
        runs = {r.info.run_id: r for r in mf_client.search_runs([exp_id])}
        listed = mf_R.list_recorders(experiment_name=name)
        assert set(listed) == set(runs)
        assert {i: rec.status for i, rec in listed.items()} == {i: r.info.status for i, r in runs.items()}
        starts = [runs[i].info.start_time for i in listed]
        assert starts == sorted(starts, reverse=True)
    main = mf_client.search_runs([mf.experiments[MLF_MAIN].experiment_id], order_by=["attributes.start_time DESC"])
    assert list(mf_R.list_recorders(experiment_name=MLF_MAIN)) == [r.info.run_id for r in main]
    with pytest.raises(ValueError):
        mf_R.list_recorders(experiment_name=MLF_DOOMED)


@pytest.mark.parametrize("label", ["ok", "failed", "killed", "running", "parent", "child"])
def test_R_reads_mlflow_runs(mf, mf_client, mf_R, label):
    spec = mf.runs[label]
    run = mf_client.get_run(spec.run_id)
    recorder = mf_R.get_recorder(recorder_id=spec.run_id, experiment_name=spec.experiment)
    assert recorder.id == spec.run_id
    assert recorder.name == run.info.run_name == spec.run_name
    assert recorder.status == run.info.status == spec.status
    assert recorder.experiment_id == run.info.experiment_id
    assert recorder.info["start_time"] == fmt_time(run.info.start_time)
    assert recorder.info["end_time"] == fmt_time(run.info.end_time)
    assert recorder.get_artifact_uri() == run.info.artifact_uri
    assert float_dict(recorder.list_metrics()) == float_dict(run.data.metrics)
    assert recorder.list_params() == run.data.params
    assert recorder.list_tags() == run.data.tags
    assert sorted(recorder.list_artifacts()) == sorted(f.path for f in mf_client.list_artifacts(spec.run_id))


def test_R_loads_objects_and_artifacts_logged_by_mlflow(mf, mf_client, mf_R, tmp_path):
    spec = mf.runs["ok"]
    recorder = mf_R.get_recorder(recorder_id=spec.run_id, experiment_name=MLF_MAIN)
    for path, obj in spec.objects.items():
        assert repr(recorder.load_object(path)) == repr(obj)
    for top in ("dir", "data", "nested", "report.txt"):
        mine = recorder.download_artifact(top, str(tmp_path / "litexp"))
        theirs = download(mf_client, spec.run_id, top, tmp_path / "mlflow")
        if Path(theirs).is_dir():
            assert cs.files_below(mine) == cs.files_below(theirs), top
        else:
            assert Path(mine).read_bytes() == Path(theirs).read_bytes()
    everything = cs.files_below(tmp_path / "litexp")
    for path, content in spec.files.items():
        assert everything[path] == content, path
    assert recorder.list_artifacts("nested") == ["nested/deep"]
    assert sorted(recorder.list_artifacts("dir")) == sorted(
        f.path for f in mf_client.list_artifacts(spec.run_id, "dir")
    )


def test_R_hides_deleted_mlflow_runs_and_experiments(mf, mf_R):
    with pytest.raises(ValueError):
        mf_R.get_recorder(recorder_id=mf.runs["deleted"].run_id, experiment_name=MLF_MAIN)
    with pytest.raises(ValueError):
        mf_R.get_exp(experiment_name=MLF_DOOMED, create=False)
    with pytest.raises(ValueError):
        mf_R.get_recorder(recorder_id=mf.runs["doomed"].run_id, experiment_name=MLF_DOOMED)
    assert MLF_DOOMED not in mf_R.list_experiments()


def test_R_finds_mlflow_recorder_by_name(mf, mf_R):
    recorder = mf_R.get_recorder(recorder_name="mlf-failed", experiment_name=MLF_MAIN)
    assert recorder.id == mf.runs["failed"].run_id
    assert recorder.status == "FAILED"


def test_mlflow_logged_models_do_not_disturb_litexp(mf, mf_client, mf_store):
    exp_id = mf.experiments[MLF_MAIN].experiment_id
    assert (mf.root / exp_id / "models").is_dir()
    run = mf_client.get_run(mf.runs["ok"].run_id)
    assert run.outputs.model_outputs and run.inputs.model_inputs
    record = mf_store.get_run(run.info.run_id)
    assert record.datasets == []
    assert record.metrics["model_acc"] == 0.75 and record.metrics["intval"] == 5.0
    assert "models" not in mf_store.list_run_ids(exp_id, ViewType.ALL)


def test_mlflow_store_stays_readable_after_litexp_reads(mf, mf_client):
    assert not (mf.root / ".litexp.lock").exists()
    assert read_everything(mf_client) == len(mf.runs)


def test_experiment_delete_and_restore_round_trip(R, uri, store_dir):
    client = MlflowClient(tracking_uri=uri)
    with R.start(experiment_name="by-litexp", recorder_name="kept"):
        R.log_metrics(step=0, a=1.0)
    with R.start(experiment_name="by-litexp", recorder_name="dropped"):
        R.log_metrics(step=0, a=2.0)
        dropped = R.get_recorder().id
    R.get_exp(experiment_name="by-litexp").delete_recorder(recorder_id=dropped)
    lx_id = R.get_exp(experiment_name="by-litexp").id
    R.delete_exp(experiment_name="by-litexp")
    client.restore_experiment(lx_id)
    assert client.get_experiment(lx_id).lifecycle_stage == "active"
    assert R.get_exp(experiment_name="by-litexp", create=False).id == lx_id
    assert {r.name for r in R.list_recorders(experiment_name="by-litexp").values()} == {"kept", "dropped"}

    mf_id = client.create_experiment("by-mlflow", tags={"k": "v"})
    run = client.create_run(mf_id, run_name="r").info.run_id
    client.set_terminated(run)
    client.delete_experiment(mf_id)
    assert "by-mlflow" not in R.list_experiments()
    store = FileStore(str(store_dir))
    assert store.get_run(run).lifecycle_stage == "deleted"
    store.restore_experiment(mf_id)
    exp = client.get_experiment(mf_id)
    assert (exp.lifecycle_stage, exp.tags) == ("active", {"k": "v"})
    assert client.get_run(run).info.lifecycle_stage == "active"
    assert read_everything(client) == 3


# ====================================================== semantics MLflow decides


def _custom_location_run(client, tmp_path):
    location = (tmp_path / "elsewhere").as_uri()
    exp_id = client.create_experiment("custom-location", artifact_location=location)
    run_id = client.create_run(exp_id, run_name="mlflow").info.run_id
    obj = tmp_path / "obj.pkl"
    obj.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    client.log_artifact(run_id, str(obj))
    client.set_terminated(run_id)
    return exp_id, run_id, location


def test_artifacts_follow_the_artifact_uri_when_reading(R, uri, tmp_path):
    client = MlflowClient(tracking_uri=uri)
    _, run_id, location = _custom_location_run(client, tmp_path)
    assert client.get_run(run_id).info.artifact_uri == f"{location}/{run_id}/artifacts"
    recorder = R.get_recorder(recorder_id=run_id, experiment_name="custom-location")
    assert recorder.get_artifact_uri() == client.get_run(run_id).info.artifact_uri
    assert recorder.list_artifacts() == [f.path for f in client.list_artifacts(run_id)] == ["obj.pkl"]
    assert recorder.load_object("obj.pkl") == {"a": 1}


def test_artifacts_follow_the_artifact_uri_when_writing(R, uri, tmp_path):
    client = MlflowClient(tracking_uri=uri)
    _custom_location_run(client, tmp_path)
    note = tmp_path / "note.txt"
    note.write_text("from litexp")
    with R.start(experiment_name="custom-location", recorder_name="litexp"):
        R.log_artifact(str(note))
        R.save_objects(pred=[1, 2])
        run_id = R.get_recorder().id
    assert sorted(f.path for f in client.list_artifacts(run_id)) == ["note.txt", "pred"]


def test_log_artifact_of_a_folder_keeps_its_name_like_mlflow(R, uri, tmp_path):
    sources = cs.make_sources(tmp_path / "src")
    with R.start(experiment_name="folders", recorder_name="litexp") as exp:
        R.log_artifact(str(sources["data"]))
        R.log_artifact(str(sources["data"]), "out/put")
        mine = R.get_recorder().id
    client = MlflowClient(tracking_uri=uri)
    theirs = client.create_run(exp.id, run_name="mlflow").info.run_id
    client.log_artifact(theirs, str(sources["data"]))
    client.log_artifact(theirs, str(sources["data"]), "out/put")
    assert cs.mlflow_tree(client, mine) == cs.mlflow_tree(client, theirs)


def test_migrate_filestore_survives_identical_metric_points(R, store_dir, tmp_path, monkeypatch):
    with R.start(experiment_name="fast", recorder_name="same-ms"):
        frozen = time.time()
        with monkeypatch.context() as patch:
            patch.setattr(time, "time", lambda: frozen)
            R.log_metrics(step=1, ic=0.5)
            R.log_metrics(step=1, ic=0.5)
            R.get_recorder().flush()
        run_id = R.get_recorder().id
    result = cs.run_migrate(store_dir.parent, tmp_path / "fast.db")
    assert result.returncode == 0, result.stderr[-2000:]
    sql = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'fast.db'}")
    assert [(m.value, m.step) for m in sql.get_metric_history(run_id, "ic")] == [(0.5, 1)]


def test_longest_valid_keys_are_written_like_mlflow(R, uri):
    key = "k" * 250
    with R.start(experiment_name="long-keys", recorder_name="litexp"):
        R.log_params(**{key: "p"})
        R.log_metrics(step=0, **{key: 1.0})
        R.set_tags(**{key: "t"})
        run_id = R.get_recorder().id
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.params[key] == "p"
    assert run.data.metrics[key] == 1.0
    assert run.data.tags[key] == "t"
