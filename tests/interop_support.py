"""Helpers of the interoperability tests: litexp's view of a store in the shape of
``tools/mlflow_dump.py``, a store written with litexp's API, reader virtualenvs, and a
bounded ``mlflow server`` on a store."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
#: MLflow releases whose readers are proven against litexp stores.
READER_VERSIONS = ("1.30.1", "2.22.5", "3.17.2")
SERVER_START_TIMEOUT = 180.0


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"litexp_tools_{name}", TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlflow_dump = load_tool("mlflow_dump")
encode_float = mlflow_dump.encode_float


def mlflow_env(**extra: str) -> Dict[str, str]:
    """Environment for MLflow subprocesses: file store allowed, no telemetry, no stray URI."""
    env = dict(os.environ)
    env.update(
        MLFLOW_ALLOW_FILE_STORE="true",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        GIT_PYTHON_REFRESH="quiet",
        PYTHONWARNINGS="ignore",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(extra)
    return env


# --------------------------------------------------------------------- litexp's view
def _artifacts(store: Any, run_id: str, path: Optional[str] = None) -> List[List[Any]]:
    out: List[List[Any]] = []
    for entry in store.list_artifacts(run_id, path):
        out.append([entry.path, entry.is_dir, None if entry.is_dir else entry.file_size])
        if entry.is_dir:
            out.extend(_artifacts(store, run_id, entry.path))
    return out


def litexp_run(store: Any, record: Any) -> Dict[str, Any]:
    """One run as litexp's FileStore reports it, in ``mlflow_dump``'s shape."""
    run_id = record.run_id
    return {
        "info": {
            "run_id": run_id,
            "run_name": record.run_name,
            "experiment_id": record.experiment_id,
            "user_id": record.user_id,
            "status": record.status,
            "start_time": record.start_time,
            "end_time": record.end_time,
            "artifact_uri": record.artifact_uri,
            "lifecycle_stage": record.lifecycle_stage,
        },
        "params": dict(sorted(record.params.items())),
        "metrics": {k: encode_float(v) for k, v in sorted(record.metrics.items())},
        "metric_history": {
            key: [[p.timestamp, encode_float(p.value), p.step] for p in store.get_metric_history(run_id, key)]
            for key in sorted(record.metrics)
        },
        "tags": dict(sorted(record.tags.items())),
        "artifacts": _artifacts(store, run_id),
        "datasets": sorted(
            ({"name": d.name, "digest": d.digest, "context": d.context} for d in record.datasets),
            key=lambda d: (d["name"], d["digest"], d["context"] or ""),
        ),
    }


def litexp_view(root: os.PathLike) -> Dict[str, Any]:
    """Everything litexp's ``FileStore`` (and its search) reports, shaped like ``mlflow_dump``."""
    from litexp.manager import search_frame
    from litexp.store import FileStore, ViewType

    store = FileStore(os.fspath(root))
    experiments = []
    order: Dict[str, List[str]] = {}
    active_order: Dict[str, List[str]] = {}
    for exp in sorted(store.list_experiments(ViewType.ALL), key=lambda e: e.experiment_id):
        experiments.append(
            {
                "experiment_id": exp.experiment_id,
                "name": exp.name,
                "artifact_location": exp.artifact_location,
                "lifecycle_stage": exp.lifecycle_stage,
                "creation_time": exp.creation_time,
                "last_update_time": exp.last_update_time,
                "tags": dict(sorted(exp.tags.items())),
            }
        )
        order[exp.experiment_id] = list(search_frame(store, [exp.experiment_id], run_view_type=ViewType.ALL)["run_id"])
        active_order[exp.experiment_id] = list(search_frame(store, [exp.experiment_id])["run_id"])
    records = store.load_runs(list(order), ViewType.ALL)
    runs = sorted((litexp_run(store, r) for r in records), key=lambda r: r["info"]["run_id"])
    return {
        "experiments": experiments,
        "runs": runs,
        "search_order": order,
        "active_search_order": active_order,
    }


def diff_views(expected: Dict[str, Any], actual: Dict[str, Any], skip: Sequence[str] = ()) -> List[str]:
    """Human-readable differences between two views (``skip``: dotted paths to ignore).

    Paths look like ``runs[<run_id>].metric_history.loss`` or ``experiments[<id>].tags``.
    """
    problems: List[str] = []

    def walk(path: str, a: Any, b: Any) -> None:
        if any(path == s or path.startswith(s + ".") or path.endswith("." + s) for s in skip):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                sub = f"{path}.{key}" if path else str(key)
                if key not in a:
                    problems.append(f"{sub}: only litexp-side has it = {b[key]!r}")
                elif key not in b:
                    problems.append(f"{sub}: missing (MLflow-side = {a[key]!r})")
                else:
                    walk(sub, a[key], b[key])
        elif a != b:
            problems.append(f"{path}: MLflow {a!r} != litexp {b!r}")

    def keyed(items: List[Dict[str, Any]], key: Any) -> Dict[str, Any]:
        return {key(item): item for item in items}

    for section, key in (("experiments", lambda e: e["experiment_id"]), ("runs", lambda r: r["info"]["run_id"])):
        a = keyed(expected.get(section, []), key)
        b = keyed(actual.get(section, []), key)
        for ident in sorted(set(a) | set(b)):
            if ident not in a:
                problems.append(f"{section}[{ident}]: listed by litexp only")
            elif ident not in b:
                problems.append(f"{section}[{ident}]: listed by MLflow only")
            else:
                walk(f"{section}[{ident}]", a[ident], b[ident])
    for section in ("search_order", "active_search_order"):
        if section in expected and section in actual:
            walk(section, expected[section], actual[section])
    return problems


def runs_of_deleted_experiments(view: Dict[str, Any]) -> List[str]:
    """Ids of the runs whose experiment is deleted (in ``.trash``), per ``view``."""
    deleted = {e["experiment_id"] for e in view["experiments"] if e["lifecycle_stage"] == "deleted"}
    return sorted(r["info"]["run_id"] for r in view["runs"] if r["info"]["experiment_id"] in deleted)


def known_differences(mlflow_view: Dict[str, Any]) -> List[str]:
    """Paths :func:`diff_views` should skip: what MLflow and litexp report differently on purpose.

    The runs of a deleted experiment keep an ``artifact_uri`` naming the experiment's old
    folder; MLflow lists artifacts at that URI (nothing: the folder moved to ``.trash``),
    litexp lists the run folder's ``artifacts/``. ``test_*`` files check this one explicitly.
    """
    return [f"runs[{rid}].artifacts" for rid in runs_of_deleted_experiments(mlflow_view)]


def same_value(a: Any, b: Any) -> bool:
    """Two encoded metric values are the same float (NaN equals NaN)."""
    x, y = float(a), float(b)
    return (math.isnan(x) and math.isnan(y)) or x == y


# ---------------------------------------------------------------- a litexp store
NAN = float("nan")
INF = float("inf")


@dataclass
class LitexpStore:
    """What :func:`write_litexp_store` wrote: the root and the ids that tests need."""

    root: Path
    experiments: Dict[str, str] = field(default_factory=dict)  # name -> id
    runs: Dict[str, str] = field(default_factory=dict)  # run name -> id
    tracking_uri: Optional[str] = None  # a server's URI instead of the root's

    @property
    def uri(self) -> str:
        return self.tracking_uri or "file:" + str(self.root)


PARENT_PARAMS = {"alpha": 0.5, "model/name": "lgbm", "opt.lr": "0.05", "param with space": "yes"}
PARENT_TAGS = {"purpose": "interop", "tag/with/slash": "a/b", "tag.with.dot": "1.0", "tag with space": "héllo ✓"}
EXPERIMENT_TAGS = {"team": "research", "owner/group": "quant", "config.version": "1.2"}


def _current_id(R: Any) -> str:
    """The id of R's active recorder."""
    rid = R.get_recorder().id
    assert rid is not None
    return str(rid)


@contextlib.contextmanager
def outside_git() -> Iterator[None]:
    """Run the block in a new empty folder (litexp records git state inside a work tree)."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="litexp-cwd-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(previous)


def write_litexp_store(root: os.PathLike) -> LitexpStore:
    """Write a store with litexp's API covering every feature litexp has (outside git)."""
    with outside_git():
        return _write_litexp_store(Path(root).resolve())


def write_scenario(tracking_uri: str) -> LitexpStore:
    """The scenario of :func:`write_litexp_store` logged to any tracking URI (an MLflow server)."""
    with outside_git():
        return _write_litexp_store(Path("."), tracking_uri)


def _write_litexp_store(root: Path, tracking_uri: Optional[str] = None) -> LitexpStore:
    """Write a store with litexp's API covering every feature litexp has.

    Experiments: ``interop main`` (tagged), ``interop second`` and ``interop deleted``
    (deleted). Runs of ``interop main``: ``parent run`` (params, metric histories with
    NaN/inf, numpy values and repeated steps, keys with ``/`` ``.`` and spaces, long and
    empty params, tags (one set then deleted), pickled objects, an artifact folder, a file
    and a copied folder under artifact paths), ``child run`` (an MLflow parent link),
    ``failed run``, ``killed run``, ``scheduled run``, ``renamed run`` (its
    ``mlflow.runName`` tag changed), ``resumed run`` (ended, resumed, ended),
    ``running run`` (never ended) and ``deleted run``.
    """
    import numpy

    from litexp import FileExpManager, QlibRecorder

    out = LitexpStore(root=root, tracking_uri=tracking_uri)
    R = QlibRecorder(FileExpManager(out.uri, "Experiment", async_logging=True))
    store = R.exp_manager.writable_store

    main = R.exp_manager.create_exp("interop main")
    out.experiments["interop main"] = main.id
    for key, value in EXPERIMENT_TAGS.items():
        store.set_experiment_tag(main.id, key, value)

    with R.start(experiment_name="interop main", recorder_name="parent run"):
        rec = R.get_recorder()
        R.log_params(**PARENT_PARAMS)
        for step in range(5):
            R.log_metrics(step=step, loss=1.0 / (step + 1))
        R.log_metrics(step=0, **{"train/acc": 0.1})
        R.log_metrics(step=1, **{"train/acc": 0.2})
        R.log_metrics(step=1, **{"train/acc": 0.15})
        R.log_metrics(step=0, **{"val.score": NAN})
        R.log_metrics(step=1, **{"val.score": INF})
        R.log_metrics(step=2, **{"val.score": -INF})
        R.log_metrics(step=0, **{"metric with space": 1.0})
        R.log_metrics(step=1, **{"metric with space": NAN})
        R.log_metrics(ic=0.03)
        R.log_metrics(step=3, **{"numpy/f32": numpy.float32(0.5), "numpy/i64": numpy.int64(7)})
        R.log_params(long_param="x" * 500, empty_param="")
        R.set_tags(**PARENT_TAGS)
        R.set_tags(temporary="to be deleted")
        rec.delete_tags("temporary")
        objects: Dict[str, Any] = {"pred": {"a": 1}, "params.pkl": [1, 2]}
        R.save_objects(**objects)
        R.save_objects(artifact_path="objects/nested", model={"w": [0.5]})
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "report"
            (folder / "sub").mkdir(parents=True)
            (folder / "summary.txt").write_text("summary\n", encoding="utf-8")
            (folder / "sub" / "detail.txt").write_text("detail\n", encoding="utf-8")
            (folder / "empty.txt").write_bytes(b"")
            R.log_artifact(str(folder))
            R.log_artifact(str(folder / "summary.txt"), artifact_path="single/file")
            R.save_objects(local_path=str(folder / "sub"), artifact_path="copied")
        out.runs["parent run"] = _current_id(R)
    time.sleep(0.01)

    with R.start(experiment_name="interop main", recorder_name="child run"):
        R.set_tags(**{"mlflow.parentRunId": out.runs["parent run"]})
        R.log_params(child_param="c")
        R.log_metrics(step=1, child_metric=2.0)
        R.log_metrics(step=2, child_metric=2.5)
        out.runs["child run"] = _current_id(R)
    time.sleep(0.01)

    try:
        with R.start(experiment_name="interop main", recorder_name="failed run"):
            out.runs["failed run"] = _current_id(R)
            R.log_params(reason="boom")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    time.sleep(0.01)

    for status in ("KILLED", "SCHEDULED"):
        R.start_exp(experiment_name="interop main", recorder_name=f"{status.lower()} run")
        out.runs[f"{status.lower()} run"] = _current_id(R)
        R.log_metrics(step=1, loss=7.0)
        R.end_exp(status)
        time.sleep(0.01)

    with R.start(experiment_name="interop main", recorder_name="renamed run"):
        out.runs["renamed run"] = _current_id(R)
        R.set_tags(**{"mlflow.runName": "renamed run, new name"})
    time.sleep(0.01)

    with R.start(experiment_name="interop main", recorder_name="resumed run"):
        out.runs["resumed run"] = _current_id(R)
        R.log_metrics(step=0, loss=1.0)
    with R.start(experiment_name="interop main", recorder_id=out.runs["resumed run"], resume=True):
        R.log_metrics(step=1, loss=0.5)
        R.set_tags(resumed="yes")
    time.sleep(0.01)

    running = store.create_run(main.id, "running run", "litexp-user", int(time.time() * 1000), {"state": "open"})
    store.log_batch(running.run_id, params={"still": "running"})
    out.runs["running run"] = running.run_id
    time.sleep(0.01)

    with R.start(experiment_name="interop main", recorder_name="deleted run"):
        out.runs["deleted run"] = _current_id(R)
        R.log_params(gone="yes")
    R.get_exp(experiment_name="interop main").delete_recorder(recorder_id=out.runs["deleted run"])

    with R.start(experiment_name="interop second", recorder_name="second run"):
        out.runs["second run"] = _current_id(R)
        R.log_metrics(step=0, score=0.1)
        R.log_metrics(step=1, score=0.2)
    out.experiments["interop second"] = R.get_exp(experiment_name="interop second").id

    with R.start(experiment_name="interop deleted", recorder_name="run of deleted experiment"):
        out.runs["run of deleted experiment"] = _current_id(R)
        R.log_metrics(m=1.0)
        R.save_objects(kept={"in": "trash"})
    out.experiments["interop deleted"] = R.get_exp(experiment_name="interop deleted").id
    R.delete_exp(experiment_name="interop deleted")
    return out


# ------------------------------------------------------------------- mlflow server
def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 30.0) -> bytes:
    """GET ``url`` and return the body (HTTPError on a non-2xx status)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


def http_json(url: str, payload: Optional[Dict[str, Any]] = None, timeout: float = 30.0) -> Any:
    """GET (no payload) or POST JSON to ``url`` and decode the JSON answer."""
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def stop_process_group(proc: "subprocess.Popen[Any]", grace: float = 15.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it spawned."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers left behind by the parent
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def wait_for_http(url: str, proc: "subprocess.Popen[Any]", log: Path, timeout: float = SERVER_START_TIMEOUT) -> None:
    """Poll ``url`` until it answers 200; fail early when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            http_get(url, timeout=5)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f}s:\n{log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def mlflow_server(root: os.PathLike, log: Path, python: str = sys.executable) -> Iterator[str]:
    """``mlflow server`` on the file store at ``root``; yields its base URL, always stopped."""
    port = free_port()
    command = [
        python,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        Path(root).resolve().as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            command,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=mlflow_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/health", proc, log)
        yield base
    finally:
        stop_process_group(proc)


def api_url(base: str, endpoint: str, **query: str) -> str:
    """URL of a REST endpoint (``experiments/search`` ...) with a query string."""
    url = f"{base}/api/2.0/mlflow/{endpoint}"
    return url + ("?" + urllib.parse.urlencode(query) if query else "")
