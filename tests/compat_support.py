"""Helpers of the MLflow compatibility tests: stores written by litexp and by MLflow,
with a record of everything logged, plus small comparison utilities."""

from __future__ import annotations

import contextlib
import getpass
import math
import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

NAN = float("nan")
INF = float("inf")
SQL_FLOAT_MAX = sys.float_info.max

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

# -------------------------------------------------------------------- comparisons


def same_float(a: Any, b: Any) -> bool:
    """Bit-for-bit equal as Python floats would print them (NaN == NaN, -0.0 != 0.0)."""
    return repr(float(a)) == repr(float(b))


def sql_float(value: float) -> float:
    """How MLflow's SQL stores give a value back: infinities become +-max float (MLflow's
    choice, NaN is kept as a flag) and SQLite drops the sign of -0.0."""
    value = float(value)
    if math.isinf(value):
        return math.copysign(SQL_FLOAT_MAX, value)
    if value == 0.0:
        return 0.0
    return value


def float_key(value: float) -> str:
    return repr(float(value))


def float_dict(d: Dict[str, float]) -> Dict[str, str]:
    """A dict of floats made comparable with ``==`` (NaN included)."""
    return {k: float_key(v) for k, v in d.items()}


def points(history: Sequence[Any]) -> List[Tuple[str, int, int]]:
    """``(repr(value), timestamp, step)`` of MLflow Metric or litexp MetricPoint objects, in order."""
    return [(float_key(m.value), int(m.timestamp), int(m.step)) for m in history]


def latest_of(logged: Sequence[Tuple[float, int]]) -> float:
    """The latest value of points logged in this order with increasing timestamps:
    the greatest step wins, and among equal steps the one logged last."""
    best_index = max(range(len(logged)), key=lambda i: (logged[i][1], i))
    return logged[best_index][0]


def mlflow_tree(client: Any, run_id: str, path: Optional[str] = None) -> Dict[str, Tuple[bool, Optional[int]]]:
    """Every artifact of a run as MLflow lists it: path -> (is_dir, file_size), recursively."""
    out: Dict[str, Tuple[bool, Optional[int]]] = {}
    for info in client.list_artifacts(run_id, path):
        out[info.path] = (bool(info.is_dir), None if info.is_dir else info.file_size)
        if info.is_dir:
            out.update(mlflow_tree(client, run_id, info.path))
    return out


def litexp_tree(store: Any, run_id: str, path: Optional[str] = None) -> Dict[str, Tuple[bool, Optional[int]]]:
    """The same listing as litexp's store reports it."""
    out: Dict[str, Tuple[bool, Optional[int]]] = {}
    for entry in store.list_artifacts(run_id, path):
        out[entry.path] = (bool(entry.is_dir), None if entry.is_dir else entry.file_size)
        if entry.is_dir:
            out.update(litexp_tree(store, run_id, entry.path))
    return out


def files_below(folder: os.PathLike) -> Dict[str, bytes]:
    """relative posix path -> content of every file below ``folder``."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------- environment


@contextlib.contextmanager
def working_dir(path: os.PathLike) -> Iterator[None]:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def now_ms() -> int:
    return int(time.time() * 1000)


def mlflow_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_migrate(source: os.PathLike, db_path: os.PathLike) -> subprocess.CompletedProcess:
    """``mlflow migrate-filestore --source <dir containing mlruns/> --target sqlite:///<db>``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "migrate-filestore",
            "--source",
            str(source),
            "--target",
            f"sqlite:///{db_path}",
            "--no-progress",
        ],
        env=mlflow_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


# ----------------------------------------------------------------------- records


@dataclass
class ExpSpec:
    name: str
    experiment_id: str = ""
    tags: Dict[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class RunSpec:
    """What a test logged to one run, and what it expects back."""

    label: str
    experiment: str
    run_name: str
    status: str
    deleted: bool = False
    run_id: str = ""
    params: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    metrics: Dict[str, List[Tuple[float, int]]] = field(default_factory=dict)
    files: Dict[str, bytes] = field(default_factory=dict)
    objects: Dict[str, Any] = field(default_factory=dict)
    start_time: Optional[int] = None
    end_time: Optional[int] = None

    def add_points(self, key: str, *pts: Tuple[float, int]) -> None:
        self.metrics.setdefault(key, []).extend(pts)


@dataclass
class StoreSpec:
    base: Path
    root: Path
    experiments: Dict[str, ExpSpec] = field(default_factory=dict)
    runs: Dict[str, RunSpec] = field(default_factory=dict)
    window: Tuple[int, int] = (0, 0)
    keep_alive: List[Any] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return "file:" + str(self.root)

    def runs_of(self, experiment: str) -> List[RunSpec]:
        return [r for r in self.runs.values() if r.experiment == experiment]

    def by_id(self, run_id: str) -> RunSpec:
        for run in self.runs.values():
            if run.run_id == run_id:
                return run
        raise KeyError(run_id)


def make_sources(folder: Path) -> Dict[str, Path]:
    """Local files and folders to log as artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "report.txt"
    report.write_bytes("report ✓\nline 2\n".encode("utf-8"))
    data = folder / "data"
    (data / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    (data / "a.txt").write_bytes(b"alpha\n")
    (data / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4)
    (data / "sub" / "deeper" / "c.json").write_bytes(b'{"c": [1, 2, 3]}')
    (data / "name with space.txt").write_bytes(b"spaced")
    (data / "ünï.txt").write_bytes("ünï".encode("utf-8"))
    return {"report": report, "data": data}


def data_files(prefix: str, data: Path) -> Dict[str, bytes]:
    return {f"{prefix}/{k}" if prefix else k: v for k, v in files_below(data).items()}


# ----------------------------------------------------------- store written by litexp

MAIN = "compat-main"
DOOMED = "compat-doomed"
EMPTY = "compat-empty ünï / x:1"
DEFAULT_NAME = "Experiment"
QLIB_ENV_KEY = "_QLIB_COMPAT_MARKER"
QLIB_ENV_VALUE = "marker ✓"


def system_tags(run_name: str) -> Dict[str, str]:
    return {
        "mlflow.user": getpass.getuser(),
        "mlflow.source.name": sys.argv[0],
        "mlflow.source.type": "LOCAL",
        "mlflow.runName": run_name,
    }


def captured_params() -> Dict[str, str]:
    return {"cmd-sys.argv": " ".join(sys.argv), QLIB_ENV_KEY: QLIB_ENV_VALUE}


def _gap() -> None:
    """Let the millisecond clock move so points logged one after the other get increasing timestamps."""
    time.sleep(0.003)


RICH_PARAMS: Dict[str, Any] = {
    "lr": 0.01,
    "depth": 7,
    "name": "alpha beta",
    "none": None,
    "listy": [1, 2],
    "model/kwargs.lr": "3e-4",
    "opt:beta-1": 0.9,
    "with space": "v",
    "empty": "",
    "unicode": "αβγ ✓",
    "multiline": "l1\nl2",
    "long": "x" * 6000,
    "padded": "  padded \n",
    "k" * 200: "long key",
    "ünï_pàram": "ok",
}

RICH_TAGS: Dict[str, Any] = {
    "stage": "dev",
    "nested/tag": "x",
    "tag.with:chars - ok": "yes",
    "multiline": "a\nb",
    "num": 5,
    "unicode": "✓ ü",
    "empty": "",
    "long": "y" * 8000,
}

#: (key, value as logged, step as logged or None) in logging order.
RICH_METRIC_CALLS: List[Tuple[str, Any, Any]] = [
    ("loss", 1.0, 0),
    ("train/loss", 2.0, 0),
    ("val.ic", 0.1, 0),
    ("ends_nan", 1.0, 0),
    ("ends_inf", 1.0, 0),
    ("ends_-inf", 1.0, 0),
    ("with space", 1.0, 0),
    ("ic:rank", 0.5, 0),
    ("top-k", 3.0, 0),
    ("a/b.c d:e-f", 7.0, 0),
    ("x/y/z", -1.0, 0),
    ("loss", 0.5, 1),
    ("train/loss", NAN, 1),
    ("val.ic", INF, 1),
    ("ends_nan", NAN, 1),
    ("ends_inf", INF, 1),
    ("ends_-inf", -INF, 1),
    ("loss", 0.25, 2),
    ("train/loss", 1.5, 2),
    ("val.ic", -INF, 2),
    ("rep", 1.0, 5),
    ("rep", 3.0, 5),
    ("rep", 2.0, 5),
    ("backwards", 10.0, 3),
    ("backwards", 20.0, 1),
    ("nostep", 1.0, None),
    ("nostep", 2.0, None),
    ("extremes", 1e308, 0),
    ("extremes", 5e-324, 1),
    ("extremes", -0.0, 2),
    ("extremes", 0.1 + 0.2, 3),
    ("extremes", 123456789012345678, 4),
    ("extremes", np.float32(0.1), np.int64(5)),
    ("extremes", -2.5, -5),
    ("extremes", 42.0, 2**40),
    ("m" * 200, 1.0, 0),
    ("ünï_métrïc", 2.0, 0),
]
MANY_POINTS = 1500


def build_litexp_store(base: Path) -> StoreSpec:
    """A store written only through litexp's public API, covering every kind of record."""
    from litexp import FileExpManager, QlibRecorder
    from litexp.store import FileStore

    base = Path(base)
    spec = StoreSpec(base=base, root=base / "mlruns")
    uri = spec.uri
    sources = make_sources(base / "src")
    t_start = now_ms()
    with working_dir(base / "work"), environ(**{QLIB_ENV_KEY: QLIB_ENV_VALUE}):
        R = QlibRecorder(FileExpManager(uri, DEFAULT_NAME))
        store = FileStore(str(spec.root))

        def expect(label: str, experiment: str, run_name: str, status: str, **kw: Any) -> RunSpec:
            run = RunSpec(label, experiment, run_name, status, **kw)
            run.params.update(captured_params())
            run.tags.update(system_tags(run_name))
            spec.runs[label] = run
            return run

        # experiments -----------------------------------------------------------
        spec.experiments["Default"] = ExpSpec("Default", "0")
        main = R.get_exp(experiment_name=MAIN)
        main_tags = {"team": "quant", "note/sub.key": "slash", "desc": "multi\nline ünïcode ✓", "empty": ""}
        for k, v in main_tags.items():
            store.set_experiment_tag(main.id, k, v)
        spec.experiments[MAIN] = ExpSpec(MAIN, main.id, dict(main_tags))
        empty = R.get_exp(experiment_name=EMPTY)
        store.set_experiment_tag(empty.id, "kind", "no runs")
        spec.experiments[EMPTY] = ExpSpec(EMPTY, empty.id, {"kind": "no runs"})

        # FINISHED, with everything ----------------------------------------------
        rich = expect("rich", MAIN, "rich run ✓", "FINISHED")
        with R.start(experiment_name=MAIN, recorder_name=rich.run_name):
            rich.run_id = R.get_recorder().id
            R.log_params(**RICH_PARAMS)
            R.log_params(lr=0.01)  # the same value again is fine
            rich.params.update({k: str(v) for k, v in RICH_PARAMS.items()})
            for key, value, step in RICH_METRIC_CALLS:
                R.log_metrics(step=step, **{key: value})
                rich.add_points(key, (float(value), 0 if step is None else int(step)))
                _gap()
            for i in range(MANY_POINTS):
                R.log_metrics(step=i, many=i * 0.001)
                rich.add_points("many", (i * 0.001, i))
            R.set_tags(**RICH_TAGS)
            R.set_tags(stage="prod")
            R.set_tags(temporary="gone soon")
            R.get_recorder().delete_tags("temporary")
            rich.tags.update({k: str(v) for k, v in RICH_TAGS.items()})
            rich.tags["stage"] = "prod"
            R.log_artifact(str(sources["report"]))
            R.log_artifact(str(sources["report"]), "nested/deep/path")
            R.log_artifact(str(sources["data"]), "logged_folder")
            R.save_objects(local_path=str(sources["data"]), artifact_path="saved/data")
            report = sources["report"].read_bytes()
            rich.files.update({"report.txt": report, "nested/deep/path/report.txt": report})
            rich.files.update(data_files("saved/data", sources["data"]))
            objects = {"pred.pkl": {"a": [1, 2, 3], "b": "βeta"}, "model.pkl": ("tuple", 1.5, None)}
            R.save_objects(**objects)
            R.save_objects(artifact_path="objs/v1", params={"x": 1, "nan": NAN})
            rich.objects.update(objects)
            rich.objects["objs/v1/params"] = {"x": 1, "nan": NAN}

        # FAILED ----------------------------------------------------------------
        failed = expect("failed", MAIN, "failed", "FAILED")
        try:
            with R.start(experiment_name=MAIN, recorder_name="failed"):
                failed.run_id = R.get_recorder().id
                R.log_params(reason="boom")
                R.log_metrics(step=0, loss=9.0)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        failed.params["reason"] = "boom"
        failed.add_points("loss", (9.0, 0))

        # KILLED and SCHEDULED through Recorder.end_run ----------------------------
        for label, status in (("killed", "KILLED"), ("scheduled", "SCHEDULED")):
            run = expect(label, MAIN, label, status)
            rec = main.create_recorder(label)
            rec.start_run()
            run.run_id = rec.id
            rec.log_params(p=1)
            rec.log_metrics(step=0, loss=5.0)
            rec.set_tags(t=status.lower())
            if label == "scheduled":
                rec.set_tags(**{"mlflow.runName": "scheduled, renamed"})
                run.run_name = run.tags["mlflow.runName"] = "scheduled, renamed"
            rec.end_run(status)
            run.params["p"] = "1"
            run.add_points("loss", (5.0, 0))
            run.tags["t"] = status.lower()

        # a run in the Default experiment "0", chosen by id ----------------------------------
        zero = expect("zero", "Default", "in-zero", "FINISHED")
        with R.start(experiment_id="0", recorder_name="in-zero"):
            zero.run_id = R.get_recorder().id
            R.log_metrics(step=0, z=0.0)
        zero.add_points("z", (0.0, 0))

        # resumed ---------------------------------------------------------------------
        resumed = expect("resumed", MAIN, "resumed", "FINISHED")
        with R.start(experiment_name=MAIN, recorder_name="resumed"):
            resumed.run_id = R.get_recorder().id
            for step in range(3):
                R.log_metrics(step=step, loss=1.0 / (step + 1))
                resumed.add_points("loss", (1.0 / (step + 1), step))
            R.log_params(before_resume=1)
        first = store.get_run(resumed.run_id)
        resumed.start_time, resumed.end_time = first.start_time, first.end_time
        time.sleep(0.01)
        with R.start(experiment_name=MAIN, recorder_id=resumed.run_id, resume=True):
            for step in range(3, 5):
                R.log_metrics(step=step, loss=1.0 / (step + 1))
                resumed.add_points("loss", (1.0 / (step + 1), step))
            R.log_params(after_resume=2)
            R.set_tags(resumed="yes")
        resumed.params.update({"before_resume": "1", "after_resume": "2"})
        resumed.tags["resumed"] = "yes"

        # deleted runs ------------------------------------------------------------------
        self_deleted = expect("self-deleted", MAIN, "self-deleted", "KILLED", deleted=True)
        with R.start(experiment_name=MAIN, recorder_name="self-deleted"):
            self_deleted.run_id = R.get_recorder().id
            R.log_metrics(step=0, loss=3.0)
            R.delete_recorder(recorder_id=self_deleted.run_id)
        self_deleted.add_points("loss", (3.0, 0))

        deleted_default = expect("deleted-default", DEFAULT_NAME, "deleted-default", "FINISHED", deleted=True)
        with R.start(recorder_name="deleted-default"):
            deleted_default.run_id = R.get_recorder().id
            R.log_metrics(step=0, acc=0.7)
        R.delete_recorder(recorder_id=deleted_default.run_id)
        deleted_default.add_points("acc", (0.7, 0))

        # implicit start (Qlib's mlflow_recorder in the default experiment) -------------
        implicit = expect("implicit", DEFAULT_NAME, "mlflow_recorder", "FINISHED")
        R.log_params(implicit=1)
        R.log_metrics(step=0, implicit=1.0)
        implicit.run_id = R.get_recorder().id
        R.end_exp("FINISHED")
        implicit.params["implicit"] = "1"
        implicit.add_points("implicit", (1.0, 0))
        spec.experiments[DEFAULT_NAME] = ExpSpec(DEFAULT_NAME, R.get_exp(experiment_name=DEFAULT_NAME, create=False).id)

        # a deleted experiment -------------------------------------------------------------
        doomed_runs = []
        for name in ("doomed-a", "doomed-b", "doomed-c"):
            run = expect(name, DOOMED, name, "FINISHED", deleted=True)
            with R.start(experiment_name=DOOMED, recorder_name=name):
                run.run_id = R.get_recorder().id
                R.log_metrics(step=1, score=len(doomed_runs) + 0.5)
                R.log_params(index=len(doomed_runs))
                if name == "doomed-c":
                    R.delete_recorder(recorder_id=doomed_runs[1].run_id)
            run.add_points("score", (len(doomed_runs) + 0.5, 1))
            run.params["index"] = str(len(doomed_runs))
            doomed_runs.append(run)
        doomed = R.get_exp(experiment_name=DOOMED, create=False)
        store.set_experiment_tag(doomed.id, "reason", "cleanup")
        spec.experiments[DOOMED] = ExpSpec(DOOMED, doomed.id, {"reason": "cleanup"}, deleted=True)
        R.delete_exp(experiment_name=DOOMED)

        # RUNNING: left running by R.start_exp, and a bare Recorder -----------------------------
        running_exp = expect("running-exp", MAIN, "running-exp", "RUNNING")
        R2 = QlibRecorder(FileExpManager(uri, DEFAULT_NAME))
        R2.start_exp(experiment_name=MAIN, recorder_name="running-exp")
        R2.log_params(live=True)
        R2.log_metrics(step=0, live=0.5)
        R2.set_tags(state="live")
        rec2 = R2.get_recorder()
        rec2.flush()
        running_exp.run_id = rec2.id
        running_exp.params["live"] = "True"
        running_exp.tags["state"] = "live"
        running_exp.add_points("live", (0.5, 0))

        running_bare = expect("running-bare", MAIN, "running-bare", "RUNNING")
        bare = main.create_recorder("running-bare")
        bare.start_run()
        bare.log_metrics(step=1, live=0.25)
        bare.flush()
        running_bare.run_id = bare.id
        running_bare.add_points("live", (0.25, 1))
        spec.keep_alive.extend([R2, rec2, bare])
    spec.window = (t_start, now_ms())
    return spec


def inject_leftover_temp_files(root: Path) -> List[Path]:
    """Files like the temporary files a killed litexp process leaves behind, in every
    folder litexp writes its temporary files to (store root, experiment and run folders)."""
    from litexp.store.file import fs as _fs

    made = []
    folders = [root]
    for parent in (root, root / ".trash"):
        for exp_dir in sorted(p for p in parent.iterdir() if p.is_dir() and p.name.isdigit()):
            folders.append(exp_dir)
            folders.extend(sorted(r for r in exp_dir.iterdir() if (r / "meta.yaml").is_file()))
    for folder in folders:
        for name in ("meta.yaml", "report.txt"):
            path = Path(_fs.temp_path_in(str(folder), name))
            path.write_bytes(b"partial: [")
            made.append(path)
    return made


# ----------------------------------------------------------- store written by MLflow

T0 = 1_700_000_000_000
MLF_MAIN = "mlf-main"
MLF_DOOMED = "mlf-doomed"
MLF_FLUENT = "mlf-fluent"


@contextlib.contextmanager
def mlflow_tracking_uri(uri: str) -> Iterator[None]:
    import mlflow

    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)  # None unsets the environment variable too


def build_mlflow_store(base: Path) -> StoreSpec:
    """A store written only by MLflow (client and fluent API)."""
    import mlflow
    import pandas as pd
    from mlflow.entities import LoggedModelInput, LoggedModelOutput, Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    base = Path(base)
    spec = StoreSpec(base=base, root=base / "mlruns")
    sources = make_sources(base / "src")
    t_start = now_ms()
    with working_dir(base / "work"):
        client = MlflowClient(tracking_uri=spec.uri)
        main_tags = {"team": "ml", "path/key.x": "v", "multi": "l1\nl2 ✓", "empty": ""}
        main_id = client.create_experiment(MLF_MAIN, tags=main_tags)
        spec.experiments["Default"] = ExpSpec("Default", "0")
        spec.experiments[MLF_MAIN] = ExpSpec(MLF_MAIN, main_id, dict(main_tags))

        def new_run(label: str, experiment: str, exp_id: str, run_name: str, start: int, **kw: Any) -> RunSpec:
            run = RunSpec(label, experiment, run_name, "RUNNING", start_time=start, **kw)
            info = client.create_run(exp_id, start_time=start, run_name=run_name, tags=kw.get("tags") or None).info
            run.run_id = info.run_id
            run.tags = dict(run.tags)
            run.tags["mlflow.runName"] = run_name
            spec.runs[label] = run
            return run

        ok = new_run("ok", MLF_MAIN, main_id, "mlf ok ✓", T0 + 1000, tags={"custom": "x", "nested/tag": "y"})
        batch = [
            ("loss", 1.0, T0 + 1100, 0),
            ("loss", 0.5, T0 + 1200, 1),
            ("loss", NAN, T0 + 1300, 2),
            ("loss", 0.25, T0 + 1400, 3),
            ("val/ic", INF, T0 + 1100, 0),
            ("val/ic", -INF, T0 + 1200, 1),
            ("ends_nan", 1.0, T0 + 1100, 0),
            ("ends_nan", NAN, T0 + 1200, 1),
            ("rep", 1.0, T0 + 1500, 5),
            ("rep", 3.0, T0 + 1500, 5),
            ("rep", 2.0, T0 + 1600, 5),
            ("backwards", 10.0, T0 + 1100, 3),
            ("backwards", 20.0, T0 + 1200, 1),
            ("a.b c:d-e", 7.5, T0 + 1700, -3),
            ("x/y/z", 0.1 + 0.2, T0 + 1700, 2**40),
        ] + [("many", i * 0.5, T0 + 2000 + i, i) for i in range(500)]
        params = {"lr": "0.01", "model/depth": "7", "with space": "v v", "unicode": "αβγ", "opt:beta-1": "0.9"}
        client.log_batch(
            ok.run_id,
            metrics=[Metric(k, v, ts, s) for k, v, ts, s in batch],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag("stage", "dev")],
        )
        for k, v, _ts, s in batch:
            ok.add_points(k, (v, s))
        client.log_param(ok.run_id, "single", 3)
        client.set_tag(ok.run_id, "stage", "prod")
        client.log_metric(ok.run_id, "single", 3.0, timestamp=T0 + 3000, step=7)
        ok.add_points("single", (3.0, 7))
        ok.params.update(params)
        ok.params["single"] = "3"
        ok.tags["stage"] = "prod"
        report = sources["report"]
        client.log_artifact(ok.run_id, str(report))
        client.log_artifact(ok.run_id, str(report), "nested/deep")
        client.log_artifacts(ok.run_id, str(sources["data"]), "dir")
        client.log_artifact(ok.run_id, str(sources["data"]))
        objects_dir = base / "objects"
        (objects_dir / "objects").mkdir(parents=True)
        weights = {"weights": [0.5, -1.25], "name": "m ✓"}
        pred = [("2020-01-01", 0.1), ("2020-01-02", NAN)]
        (objects_dir / "model.pkl").write_bytes(pickle.dumps(weights, protocol=4))
        (objects_dir / "objects" / "pred.pkl").write_bytes(pickle.dumps(pred, protocol=4))
        client.log_artifact(ok.run_id, str(objects_dir / "model.pkl"))
        client.log_artifact(ok.run_id, str(objects_dir / "objects" / "pred.pkl"), "objects")
        ok.objects.update({"model.pkl": weights, "objects/pred.pkl": pred})
        ok.files.update({"report.txt": report.read_bytes(), "nested/deep/report.txt": report.read_bytes()})
        ok.files.update(data_files("dir", sources["data"]))
        ok.files.update(data_files("data", sources["data"]))
        client.log_metric(ok.run_id, "intval", 5, timestamp=T0 + 3100, step=2)
        ok.add_points("intval", (5.0, 2))
        model = client.create_logged_model(main_id, name="model", source_run_id=ok.run_id, params={"a": "1"})
        client.log_outputs(ok.run_id, [LoggedModelOutput(model.model_id, 0)])
        client.log_inputs(ok.run_id, models=[LoggedModelInput(model.model_id)])
        client.log_metric(ok.run_id, "model_acc", 0.75, timestamp=T0 + 3200, step=1, model_id=model.model_id)
        ok.add_points("model_acc", (0.75, 1))
        client.set_terminated(ok.run_id, "FINISHED", end_time=T0 + 9000)
        ok.status, ok.end_time = "FINISHED", T0 + 9000

        for label, status, k in (("failed", "FAILED", 2), ("killed", "KILLED", 3)):
            run = new_run(label, MLF_MAIN, main_id, f"mlf-{label}", T0 + k * 1000)
            client.log_metric(run.run_id, "loss", float(k), timestamp=T0 + k * 1000 + 1, step=0)
            run.add_points("loss", (float(k), 0))
            client.set_terminated(run.run_id, status, end_time=T0 + 10000 + k)
            run.status, run.end_time = status, T0 + 10000 + k

        running = new_run("running", MLF_MAIN, main_id, "mlf-running", T0 + 4000)
        client.log_param(running.run_id, "live", "yes")
        running.params["live"] = "yes"

        deleted = new_run("deleted", MLF_MAIN, main_id, "mlf-deleted", T0 + 5000)
        client.log_metric(deleted.run_id, "loss", 5.0, timestamp=T0 + 5001, step=0)
        deleted.add_points("loss", (5.0, 0))
        client.set_terminated(deleted.run_id, "FINISHED", end_time=T0 + 5500)
        client.delete_run(deleted.run_id)
        deleted.status, deleted.end_time, deleted.deleted = "FINISHED", T0 + 5500, True

        doomed_id = client.create_experiment(MLF_DOOMED, tags={"reason": "cleanup"})
        spec.experiments[MLF_DOOMED] = ExpSpec(MLF_DOOMED, doomed_id, {"reason": "cleanup"}, deleted=True)
        gone = new_run("doomed", MLF_DOOMED, doomed_id, "mlf-doomed-run", T0 + 6000)
        client.log_param(gone.run_id, "p", "1")
        gone.params["p"] = "1"
        client.set_terminated(gone.run_id, "FINISHED", end_time=T0 + 6500)
        gone.status, gone.end_time, gone.deleted = "FINISHED", T0 + 6500, True
        client.delete_experiment(doomed_id)

        fluent_id = client.create_experiment(MLF_FLUENT)
        spec.experiments[MLF_FLUENT] = ExpSpec(MLF_FLUENT, fluent_id)
        frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.1, 0.2, 0.3]})
        with mlflow_tracking_uri(spec.uri):
            with mlflow.start_run(experiment_id=fluent_id, run_name="parent") as parent:
                mlflow.log_param("a", 1)
                with mlflow.start_run(experiment_id=fluent_id, run_name="child", nested=True) as child:
                    dataset = mlflow.data.from_pandas(frame, name="prices")
                    mlflow.log_input(dataset, context="training")
                    mlflow.log_metric("eval_acc", 0.9, step=3, dataset=dataset)
                    mlflow.log_metric("plain", 1.5, step=2)
        spec.runs["parent"] = RunSpec(
            "parent", MLF_FLUENT, "parent", "FINISHED", run_id=parent.info.run_id, params={"a": "1"}
        )
        spec.runs["child"] = RunSpec(
            "child",
            MLF_FLUENT,
            "child",
            "FINISHED",
            run_id=child.info.run_id,
            metrics={"eval_acc": [(0.9, 0)], "plain": [(1.5, 2)]},
        )
        spec.keep_alive.append(("dataset", dataset.name, dataset.digest))
    spec.window = (t_start, now_ms())
    return spec
