"""Benchmarks: litexp against MLflow's file store, side by side, in one run.

    python tools/bench.py                       # full sizes (tens of minutes on a small machine)
    python tools/bench.py --quick               # small sizes, a smoke run
    python tools/bench.py --quick --skip-mlflow --json out.json

Every measurement runs in a fresh subprocess: litexp's with the current Python,
MLflow's with the Python of a virtualenv holding ``mlflow==3.17.2`` (made once under
``--venv-dir`` and reused; ``--mlflow-python`` uses an existing interpreter instead),
with ``MLFLOW_ALLOW_FILE_STORE=true``. Times are medians over repeats; a cell is
repeated up to ``--repeats`` times while its samples stay within ``--budget``
seconds, so slow cells get fewer samples (the table says how many, ``n=``). An
MLflow worker still running after ``--mlflow-timeout`` seconds is killed and its
cell reads ``> N s (killed)``.

Measurements:

1. logging: ``R.log_metrics(step=i, loss=...)`` N times in one run, from the first
   call through ``R.end_exp()`` (flush included), vs ``mlflow.log_metric`` N times
   inside ``mlflow.start_run()`` through ``end_run()``; floor: the same N lines appended
   to one file opened once, one ``os.write`` per line.
2. run churn: K x (start, 5 params, 5 metrics, end): ``with R.start(...)`` vs
   ``mlflow.start_run()`` / ``log_params`` / ``log_metrics`` / ``end_run()``.
3. search on a generated store (``tools/generate_store.py``): (a) the full frame of
   the experiment, (b) a filtered, ordered query; ``R.search_records`` vs
   ``mlflow.search_runs``. Cold = the first query of a fresh process (the page
   cache is warm for both sides); warm = the same query again in that process.
   litexp keeps an index file in the experiment folder, so its cold query is
   measured twice: with no index (the first search of a store ever) and with the
   index a previous process left. Floor: a process that opens and reads every
   file of the store once. pandas is imported before the clock starts on both
   sides.
4. long histories: the full-frame search on a store whose metrics have many
   steps vs one with 1 step (same runs and latest values).
5. ``python -c "import litexp"`` over ``python -c pass`` (and ``import mlflow``).
6. peak traced memory (tracemalloc) of the full-frame search vs the size of the
   frame (``memory_usage(deep=True)``).
7. logging to a local ``mlflow server`` (SQLite, ``--workers 1``) the bench starts
   from MLflow's Python and stops at the end: N ``R.log_metrics`` calls through
   ``R.end_exp()`` vs N ``mlflow.log_metric`` calls through ``end_run()``, per call;
   litexp's ``log-batch`` requests counted from the server's access log, every
   history read back; floor: the same points POSTed as ``log-batch`` requests of
   1,000 on one keep-alive connection (``tools/bench_server.py``).
8. push: ``litexp.push()`` of a file store of R runs (5 params, 5 metrics x 10 steps,
   2 tags, one 1 KB artifact each; written once and reused) to a fresh local
   ``mlflow server`` per sample (as in 7, ``--serve-artifacts``), then a second push
   of the same store (nothing to copy); every copy read back over REST. No MLflow
   equivalent; floor: the same data with runs/create, one log-batch, one artifact PUT
   and runs/update per run on one keep-alive connection (``tools/bench_push.py``).

``--only`` takes names or numbers (``--only 8``, ``--only logging,3``).

Workers run with the working folder ``<workdir>/cwd`` (outside any git work tree,
so neither side records git state). ``--profile`` also prints cProfile tables of
litexp's search and logging.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import bench_churn  # noqa: E402
import bench_push  # noqa: E402
import bench_server  # noqa: E402

REPO = HERE.parent
MLFLOW_REQUIREMENT = "mlflow==3.17.2"
RESULT_PREFIX = "BENCH-RESULT "
FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
OLD_INDEX_BYTES_PER_FILE = 161  # litexp 0.1's JSON index, measured on this bench's 10,000-run store
ORDER_BY = ["metrics.m1 DESC"]
QUERIES: Dict[str, Dict[str, Any]] = {
    "full": {},
    "filtered": {"filter_string": FILTER, "order_by": ORDER_BY},
}

FULL_SIZES: Dict[str, int] = {
    "log_calls": 10_000,
    "churn_runs": 200,
    "search_runs": 10_000,
    "metrics": 10,
    "params": 10,
    "tags": 5,
    "long_runs": 500,
    "long_steps": 10_000,
    "server_calls": 10_000,
    "server_mlflow_calls": 10_000,
    "push_runs": 1_000,
}
QUICK_SIZES: Dict[str, int] = {
    "log_calls": 2_000,
    "churn_runs": 50,
    "search_runs": 500,
    "metrics": 10,
    "params": 10,
    "tags": 5,
    "long_runs": 100,
    "long_steps": 1_000,
    "server_calls": 10_000,
    "server_mlflow_calls": 1_000,
    "push_runs": 200,
}
MEASUREMENTS = ("logging", "churn", "search", "long", "import", "memory", "server", "push")


# --------------------------------------------------------------------------- workers
# Each worker runs in its own process and prints one line ``BENCH-RESULT {json}``.
# They import what they measure only inside the function, after the parent started them.


def _import_pandas() -> None:
    import numpy  # noqa: F401
    import pandas  # noqa: F401


def _frame_facts(frame: Any) -> Dict[str, Any]:
    ids = "\n".join(str(x) for x in frame["run_id"]) if "run_id" in frame.columns else ""
    return {
        "rows": int(frame.shape[0]),
        "cols": int(frame.shape[1]),
        "run_ids_sha1": hashlib.sha1(ids.encode()).hexdigest(),
        "columns_sha1": hashlib.sha1("\n".join(sorted(map(str, frame.columns))).encode()).hexdigest(),
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
    }


def _metric_lines(root: str, run_id: str, key: str) -> int:
    for exp in os.listdir(root):
        path = os.path.join(root, exp, run_id, "metrics", key)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                return handle.read().count(b"\n")
    return -1


def worker_log_litexp(p: Dict[str, Any]) -> Dict[str, Any]:
    """``R.log_metrics`` p["n"] times in one run; time from the first call through ``R.end_exp()``."""
    from litexp import R

    uri = "file:" + p["store"]
    R.start_exp(experiment_name="logging", uri=uri)
    run_id = R.get_recorder().id
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        R.log_metrics(step=i, loss=1.0 / (i + 1))
    R.end_exp()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines": _metric_lines(p["store"], run_id, "loss")}


def worker_log_mlflow(p: Dict[str, Any]) -> Dict[str, Any]:
    """``mlflow.log_metric`` p["n"] times inside ``start_run()``, through ``end_run()``."""
    import mlflow

    mlflow.set_tracking_uri("file://" + p["store"])
    mlflow.set_experiment("logging")
    run = mlflow.start_run()
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    mlflow.end_run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines": _metric_lines(p["store"], run.info.run_id, "loss")}


def worker_log_floor(p: Dict[str, Any]) -> Dict[str, Any]:
    """Append the same p["n"] metric lines to one file opened once, one ``os.write`` per line."""
    path = p["path"]
    n = p["n"]
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for i in range(n):
        os.write(fd, f"{int(time.time() * 1000)} {1.0 / (i + 1)!r} {i}\n".encode("ascii"))
    os.close(fd)
    seconds = time.perf_counter() - started
    with open(path, "rb") as handle:
        lines = handle.read().count(b"\n")
    return {"seconds": seconds, "lines": lines}


def worker_churn_litexp(p: Dict[str, Any]) -> Dict[str, Any]:
    """p["n"] x ``with R.start(...)``: 5 params, 5 metrics, end."""
    from litexp import R

    R.set_uri("file:" + p["store"])
    R.get_exp(experiment_name="churn")
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        with R.start(experiment_name="churn"):
            R.log_params(**{f"p{k}": f"v{i}-{k}" for k in range(5)})
            R.log_metrics(**{f"m{k}": i + k / 10.0 for k in range(5)})
    seconds = time.perf_counter() - started
    return {"seconds": seconds}


def worker_churn_mlflow(p: Dict[str, Any]) -> Dict[str, Any]:
    """p["n"] x ``mlflow.start_run()``, ``log_params`` (5), ``log_metrics`` (5), ``end_run()``."""
    import mlflow

    mlflow.set_tracking_uri("file://" + p["store"])
    mlflow.set_experiment("churn")
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        mlflow.start_run()
        mlflow.log_params({f"p{k}": f"v{i}-{k}" for k in range(5)})
        mlflow.log_metrics({f"m{k}": i + k / 10.0 for k in range(5)})
        mlflow.end_run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds}


def _searcher(side: str, root: str, experiment_id: str) -> Callable[..., Any]:
    if side == "litexp":
        from litexp import R

        R.set_uri("file:" + root)
        return lambda **kw: R.search_records([experiment_id], **kw)
    import mlflow

    mlflow.set_tracking_uri("file://" + root)
    return lambda **kw: mlflow.search_runs([experiment_id], **kw)


def worker_search(p: Dict[str, Any]) -> Dict[str, Any]:
    """One cold query, then up to p["warm"] warm ones within p["warm_budget"] seconds."""
    _import_pandas()
    search = _searcher(p["side"], p["root"], p["experiment_id"])
    query = QUERIES[p["query"]]
    started = time.perf_counter()
    frame = search(**query)
    cold = time.perf_counter() - started
    warm: List[float] = []
    spent = 0.0
    while len(warm) < p.get("warm", 0) and (not warm or spent < p.get("warm_budget", 0)):
        started = time.perf_counter()
        search(**query)
        warm.append(time.perf_counter() - started)
        spent += warm[-1]
    return {"cold": cold, "warm": warm, **_frame_facts(frame)}


def worker_memory(p: Dict[str, Any]) -> Dict[str, Any]:
    """Peak traced memory of one query, and the ru_maxrss growth over it.

    A query on the empty default experiment runs first, untraced, so the modules
    both sides import lazily on their first search are not counted.
    """
    import resource
    import tracemalloc

    _import_pandas()
    search = _searcher(p["side"], p["root"], p["experiment_id"])
    _searcher(p["side"], p["root"], "0")(**QUERIES[p["query"]])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    frame = search(**QUERIES[p["query"]])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_bytes": peak, "maxrss_growth_bytes": (rss_after - rss_before) * 1024, **_frame_facts(frame)}


def worker_floor_read(p: Dict[str, Any]) -> Dict[str, Any]:
    """Open and read every file of the store once (litexp's own ``.litexp*`` files excluded)."""
    started = time.perf_counter()
    files = 0
    size = 0
    for folder, _, names in os.walk(p["root"]):
        for name in names:
            if name.startswith(".litexp"):
                continue
            with open(os.path.join(folder, name), "rb") as handle:
                size += len(handle.read())
            files += 1
    return {"seconds": time.perf_counter() - started, "files": files, "bytes": size}


def worker_floor_stat(p: Dict[str, Any]) -> Dict[str, Any]:
    """``os.stat`` every file of the store once (litexp's own ``.litexp*`` files excluded)."""
    started = time.perf_counter()
    files = 0
    for folder, _, names in os.walk(p["root"]):
        for name in names:
            if name.startswith(".litexp"):
                continue
            os.stat(os.path.join(folder, name))
            files += 1
    return {"seconds": time.perf_counter() - started, "files": files}


def worker_profile(p: Dict[str, Any]) -> Dict[str, Any]:
    """cProfile of one litexp search (p["what"] == "search") or logging run; pstats text."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    if p["what"] == "search":
        _import_pandas()
        search = _searcher("litexp", p["root"], p["experiment_id"])
        query = QUERIES[p["query"]]
        profiler.enable()
        search(**query)
        profiler.disable()
    else:
        from litexp import R

        R.start_exp(experiment_name="profile", uri="file:" + p["store"])
        profiler.enable()
        for i in range(p["n"]):
            R.log_metrics(step=i, loss=1.0 / (i + 1))
        R.end_exp()
        profiler.disable()
    out: Dict[str, Any] = {}
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(p.get("top", 15))
        out[order] = text.getvalue()
    return out


WORKERS: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    "log-litexp": worker_log_litexp,
    "log-mlflow": worker_log_mlflow,
    "log-floor": worker_log_floor,
    "churn-litexp": worker_churn_litexp,
    "churn-mlflow": worker_churn_mlflow,
    "search": worker_search,
    "memory": worker_memory,
    "floor-read": worker_floor_read,
    "floor-stat": worker_floor_stat,
    "profile": worker_profile,
    **bench_server.WORKERS,
    **bench_churn.WORKERS,
    **bench_push.WORKERS,
}


def worker_main(name: str, params_json: str) -> int:
    """Entry point of a worker process."""
    result = WORKERS[name](json.loads(params_json))
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------- driver


class BenchError(RuntimeError):
    """A worker failed or an environment could not be prepared."""


class WorkerTimeout(BenchError):
    """A worker ran longer than its time limit (it was killed)."""

    def __init__(self, worker: str, seconds: float) -> None:
        super().__init__(f"worker {worker} timed out after {seconds:g} s")
        self.seconds = seconds


class Sides:
    """How to start a litexp worker and an MLflow worker."""

    def __init__(self, cwd: str, mlflow_python: Optional[str], mlflow_timeout: Optional[float] = None) -> None:
        self.cwd = cwd
        self.mlflow_python = mlflow_python
        self.mlflow_timeout = mlflow_timeout
        self.litexp_env = dict(os.environ)
        path = self.litexp_env.get("PYTHONPATH")
        self.litexp_env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
        self.mlflow_env = dict(os.environ)
        for name in ("PYTHONPATH", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
            self.mlflow_env.pop(name, None)
        self.mlflow_env.update(
            {
                "MLFLOW_ALLOW_FILE_STORE": "true",
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "DO_NOT_TRACK": "true",
                "GIT_PYTHON_REFRESH": "quiet",
            }
        )

    def command(self, side: str) -> Tuple[List[str], Dict[str, str]]:
        if side == "mlflow":
            if not self.mlflow_python:
                raise BenchError("MLflow is skipped")
            return [self.mlflow_python], self.mlflow_env
        return [sys.executable], self.litexp_env

    def run(
        self,
        side: str,
        worker: str,
        params: Dict[str, Any],
        timeout: Optional[float] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        """Run one worker in a fresh process (its side's environment plus ``extra_env``) and return its result.

        MLflow's workers are killed after ``mlflow_timeout`` seconds (:class:`WorkerTimeout`).
        """
        python, env = self.command(side)
        if extra_env:
            env = dict(env, **extra_env)
        if timeout is None and side == "mlflow":
            timeout = self.mlflow_timeout
        cmd = python + [str(Path(__file__).resolve()), "--worker", worker, json.dumps(params)]
        try:
            proc = subprocess.run(cmd, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WorkerTimeout(worker, float(timeout or 0)) from None
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX) :])
        tail = "\n".join((proc.stderr or "").splitlines()[-25:])
        raise BenchError(f"worker {worker} ({side}) failed with exit code {proc.returncode}:\n{tail}")


def sample(fn: Callable[[int], float], repeats: int, budget: float) -> List[float]:
    """Call ``fn(i)`` at least once and at most ``repeats`` times while the total stays under ``budget``."""
    values: List[float] = []
    spent = 0.0
    while len(values) < max(1, repeats) and (not values or spent < budget):
        started = time.perf_counter()
        values.append(fn(len(values)))
        spent += time.perf_counter() - started
    return values


def median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    sys.stderr.write(f"[{stamp}] {message}\n")
    sys.stderr.flush()


# ------------------------------------------------------------------- environment


def _installed_mlflow(python: Path) -> Optional[str]:
    if not python.exists():
        return None
    proc = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True, timeout=600
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_mlflow_venv(venv_dir: Path, requirement: str = MLFLOW_REQUIREMENT) -> str:
    """The Python of a virtualenv holding ``requirement``: made under ``venv_dir`` once, then reused."""
    python = venv_dir / "bin" / "python"
    marker = venv_dir / ".bench-ready"
    wanted = requirement.split("==", 1)[1] if "==" in requirement else None
    if marker.is_file() and marker.read_text().strip() == requirement and python.exists():
        return str(python)
    if not python.exists():
        if venv_dir.exists():
            shutil.rmtree(venv_dir)
        log(f"creating {venv_dir} with {requirement} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
    found = _installed_mlflow(python)
    if found is None or (wanted is not None and found != wanted):
        log(f"installing {requirement} into {venv_dir}")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement], check=True
        )
        found = _installed_mlflow(python)
    if found is None or (wanted is not None and found != wanted):
        raise BenchError(f"{venv_dir} does not hold {requirement} (found {found})")
    marker.write_text(requirement + "\n")
    return str(python)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> str:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _file_system(path: str) -> str:
    real = os.path.realpath(path)
    best: Tuple[int, str] = (-1, "?")
    try:
        with open("/proc/mounts") as handle:
            for line in handle:
                device, mount, fstype = line.split()[:3]
                mount = mount.replace("\\040", " ")
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) > best[0]:
                    best = (len(mount), f"{fstype} ({device} on {mount})")
    except OSError:
        pass
    return best[1]


def _python_facts(python: str, env: Dict[str, str], code: str) -> str:
    try:
        proc = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        return proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]
    except Exception as exc:  # facts are informative only
        return f"? ({exc})"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "") if rev else "?"
    except Exception:
        return "?"


def _inside_git(path: str) -> bool:
    try:
        proc = subprocess.run(
            ["git", "-C", path, "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, timeout=30
        )
        return proc.stdout.strip() == "true"
    except Exception:
        return False


def machine_facts(sides: Sides, workdir: str) -> Dict[str, str]:
    """CPU, cores, memory, Pythons, versions, date, file system and load."""
    cores = str(os.cpu_count())
    if hasattr(os, "sched_getaffinity"):
        cores += f" ({len(os.sched_getaffinity(0))} usable)"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    facts = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": _cpu_model(),
        "cores": cores,
        "memory": _memory_total(),
        "OS": f"{platform.system()} {platform.release()}",
        "file system": _file_system(workdir),
        "Python (litexp)": platform.python_version() + f" ({sys.executable})",
        "litexp": _python_facts(
            sys.executable,
            sides.litexp_env,
            "import litexp, os; print(litexp.__version__, os.path.dirname(litexp.__file__))",
        )
        + f", git {_git_revision()}",
        "load average at start": " ".join(f"{x:.2f}" for x in load),
    }
    if sides.mlflow_python:
        facts["Python (MLflow)"] = _python_facts(
            sides.mlflow_python,
            sides.mlflow_env,
            "import platform, sys; print(platform.python_version(), sys.executable)",
        )
        facts["mlflow"] = _python_facts(
            sides.mlflow_python, sides.mlflow_env, "import mlflow; print(mlflow.__version__)"
        )
    return facts


# -------------------------------------------------------------------------- stores


class Store:
    """A generated store: its root and experiment id."""

    def __init__(self, root: str, experiment_id: str, sizes: Dict[str, int], fresh: bool = False) -> None:
        self.root = root
        self.experiment_id = experiment_id
        self.sizes = sizes
        self.fresh = fresh

    @property
    def exp_dir(self) -> str:
        return os.path.join(self.root, self.experiment_id)

    def clear_index(self) -> None:
        """Remove litexp's own files (index, locks) at the root and in the experiment folder."""
        for folder in (self.root, self.exp_dir):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                path = os.path.join(folder, name)
                if name.startswith(".litexp") and os.path.isfile(path):
                    os.unlink(path)


def get_store(workdir: str, runs: int, metrics: int, params: int, tags: int, steps: int, seed: int) -> Store:
    """Generate a store under ``workdir/stores`` (or reuse the one made earlier with the same sizes)."""
    sys.path.insert(0, str(HERE))
    try:
        from generate_store import generate_store
    finally:
        sys.path.remove(str(HERE))
    name = f"r{runs}-m{metrics}-p{params}-t{tags}-s{steps}-seed{seed}"
    folder = os.path.join(workdir, "stores", name)
    summary_path = os.path.join(folder, "summary.json")
    sizes = {"runs": runs, "metrics": metrics, "params": params, "tags": tags, "steps": steps}
    if os.path.isfile(summary_path):
        with open(summary_path) as handle:
            summary = json.load(handle)
        log(f"reusing store {folder}")
        return Store(summary["root"], summary["experiment_id"], sizes)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    log(f"generating store {name}")
    started = time.perf_counter()
    summary = generate_store(os.path.join(folder, "mlruns"), runs, metrics, params, tags, steps, seed)
    summary.pop("run_ids")
    summary["seconds"] = time.perf_counter() - started
    with open(summary_path, "w") as handle:
        json.dump(summary, handle)
    log(f"generated in {summary['seconds']:.1f} s")
    return Store(summary["root"], summary["experiment_id"], sizes, fresh=True)


# ------------------------------------------------------------------- measurements


class Bench:
    """Runs the measurements and collects rows and raw samples."""

    def __init__(self, args: argparse.Namespace, sides: Sides, workdir: str, sizes: Dict[str, int]) -> None:
        self.args = args
        self.sides = sides
        self.workdir = workdir
        self.sizes = sizes
        self.mlflow = sides.mlflow_python is not None
        self.raw: Dict[str, Any] = {}
        self.rows: List[Dict[str, Any]] = []
        self.notes: List[str] = []
        self.profiles: Dict[str, Dict[str, str]] = {}
        self._counter = 0

    def fresh_dir(self, label: str) -> str:
        self._counter += 1
        path = os.path.join(self.workdir, "scratch", f"{self._counter:04d}-{label}")
        os.makedirs(path)
        return path

    def timed(
        self, side: str, worker: str, params: Callable[[], Dict[str, Any]], key: str = "seconds"
    ) -> Tuple[List[float], List[Dict[str, Any]], Optional[float]]:
        """Samples of one worker (fresh process each, within the budget); the limit if one timed out."""
        results: List[Dict[str, Any]] = []

        def one(_: int) -> float:
            results.append(self.sides.run(side, worker, params()))
            return float(results[-1][key])

        try:
            values = sample(one, self.args.repeats, self.args.budget)
        except WorkerTimeout as exc:
            return [float(r[key]) for r in results], results, exc.seconds
        return values, results, None

    def add_row(self, **row: Any) -> None:
        self.rows.append(row)

    def prepare_stores(self, search: bool, long: bool) -> None:
        """Generate (or reuse) the stores first, then let freshly written files settle.

        litexp's index skips files changed in the last two seconds, and a store
        searched right after it was written would be measured without an index.
        """
        s = self.sizes
        self.stores: Dict[str, Store] = {}

        def make(runs: int, steps: int) -> Store:
            return get_store(self.workdir, runs, s["metrics"], s["params"], s["tags"], steps, self.args.seed)

        if search:
            self.stores["search"] = make(s["search_runs"], 1)
        if long:
            self.stores["long-1"] = make(s["long_runs"], 1)
            self.stores["long-n"] = make(s["long_runs"], s["long_steps"])
        if any(store.fresh for store in self.stores.values()):
            time.sleep(3.0)

    # 1 ------------------------------------------------------------------
    def logging(self) -> None:
        n = self.sizes["log_calls"]
        log(f"logging: {n:,} calls")

        def store() -> Dict[str, Any]:
            return {"store": os.path.join(self.fresh_dir("log"), "mlruns"), "n": n}

        def floor_file() -> Dict[str, Any]:
            return {"path": os.path.join(self.fresh_dir("floor"), "loss"), "n": n}

        lit, lit_res, _ = self.timed("litexp", "log-litexp", store)
        floor, floor_res, _ = self.timed("litexp", "log-floor", floor_file)
        ml: List[float] = []
        ml_res: List[Dict[str, Any]] = []
        ml_timeout: Optional[float] = None
        if self.mlflow:
            ml, ml_res, ml_timeout = self.timed("mlflow", "log-mlflow", store)
        for res in lit_res + ml_res + floor_res:
            if res["lines"] != n:
                self.notes.append(f"logging: a run wrote {res['lines']} lines instead of {n}")
        self.raw["logging"] = {"litexp": lit, "mlflow": ml, "mlflow_timed_out": ml_timeout, "floor": floor}
        self.add_row(
            measurement=f"1. logging: {n:,} `R.log_metrics(step=i, loss=...)` calls in one run, through `R.end_exp()`",
            litexp=lit,
            mlflow=ml,
            mlflow_timed_out=ml_timeout,
            floor=floor,
            unit="s",
            goals=[("mlflow", 50.0), ("floor", 3.0)],
        )

    # 2 ------------------------------------------------------------------
    def churn(self) -> None:
        n = self.sizes["churn_runs"]
        log(f"churn: {n} runs")

        def store() -> Dict[str, Any]:
            return {"store": os.path.join(self.fresh_dir("churn"), "mlruns"), "n": n}

        lit, _, _ = self.timed("litexp", "churn-litexp", store)
        ml: List[float] = []
        ml_timeout: Optional[float] = None
        if self.mlflow:
            ml, _, ml_timeout = self.timed("mlflow", "churn-mlflow", store)
        self.raw["churn"] = {"litexp": lit, "mlflow": ml, "mlflow_timed_out": ml_timeout}
        self.add_row(
            measurement=f"2. run churn: {n} x (start, 5 params, 5 metrics, end)",
            litexp=lit,
            mlflow=ml,
            mlflow_timed_out=ml_timeout,
            floor=[],
            unit="s",
            goals=[("mlflow", 20.0)],
        )
        log("churn: against the plain-os floor, and inside a git work tree (tools/bench_churn.py)")
        try:
            bench_churn.measure(self, sample, WorkerTimeout)
        except bench_churn.ChurnFailure as exc:
            raise BenchError(str(exc)) from exc

    # 3 / 4 ----------------------------------------------------------------
    def floor_read(self, store: Store) -> List[float]:
        """Read every file of the store once (untimed, to warm the page cache for both sides), then sample."""
        self.sides.run("litexp", "floor-read", {"root": store.root})
        values, results, _ = self.timed("litexp", "floor-read", lambda: {"root": store.root})
        self.raw.setdefault("floor_read", {})[store.root] = {
            "seconds": values,
            "files": results[0]["files"],
            "bytes": results[0]["bytes"],
        }
        return values

    def search_side(self, side: str, store: Store, query: str, with_index: bool, warm: bool = True) -> Dict[str, Any]:
        """Cold samples (one per process) and, with ``warm``, warm samples in the first process.

        litexp without index: the index files are removed before every process. The
        budget counts the cold queries only. A killed (timed-out) MLflow worker ends
        the cell; ``timed_out`` then holds the limit.
        """
        params = {
            "side": side,
            "root": store.root,
            "experiment_id": store.experiment_id,
            "query": query,
            "warm": 0,
            "warm_budget": self.args.budget,
        }
        results: List[Dict[str, Any]] = []
        timed_out: Optional[float] = None
        spent = 0.0
        while len(results) < max(1, self.args.repeats) and (not results or spent < self.args.budget):
            if side == "litexp" and not with_index:
                store.clear_index()
            want_warm = warm and not results and (with_index or side == "mlflow")
            try:
                warm_count = self.args.warm_repeats if want_warm else 0
                results.append(self.sides.run(side, "search", dict(params, warm=warm_count)))
            except WorkerTimeout as exc:
                timed_out = exc.seconds
                break
            spent += results[-1]["cold"]
        return {
            "cold": [float(r["cold"]) for r in results],
            "warm": [float(w) for r in results for w in r["warm"]],
            "facts": {k: v for k, v in results[0].items() if k not in ("cold", "warm")} if results else None,
            "timed_out": timed_out,
        }

    def compare(self, label: str, lit: Dict[str, Any], ml: Dict[str, Any]) -> None:
        a, b = lit["facts"], ml["facts"]
        if a is None or b is None:
            return
        same = all(a[k] == b[k] for k in ("rows", "run_ids_sha1", "columns_sha1"))
        text = (
            "same rows, order and columns"
            if same
            else (
                f"DIFFERENT: litexp {a['rows']}x{a['cols']}, MLflow {b['rows']}x{b['cols']}, "
                f"run order {'same' if a['run_ids_sha1'] == b['run_ids_sha1'] else 'differs'}, "
                f"columns {'same' if a['columns_sha1'] == b['columns_sha1'] else 'differ'}"
            )
        )
        self.notes.append(f"{label}: litexp vs MLflow frames: {text} ({a['rows']} rows x {a['cols']} columns)")

    def floor_stat(self, store: Store) -> List[float]:
        """``stat`` every file of the store once, sampled like :meth:`floor_read`."""
        values, results, _ = self.timed("litexp", "floor-stat", lambda: {"root": store.root})
        self.raw.setdefault("floor_stat", {})[store.root] = {"seconds": values, "files": results[0]["files"]}
        return values

    def index_size(self, store: Store) -> None:
        """Bytes of the experiment's index on disk, per file of the store."""
        size = sum(
            os.path.getsize(os.path.join(store.exp_dir, n))
            for n in os.listdir(store.exp_dir)
            if n.startswith(".litexp-index")
        )
        files = self.raw["floor_read"][store.root]["files"]
        per_file = size / max(1, files)
        self.raw["index_size"] = {"bytes": size, "files": files, "per_file": per_file}
        self.notes.append(
            f"index on disk: {size / 2**20:.1f} MB for {files:,} files = {per_file:.0f} bytes per file; "
            f"litexp 0.1's JSON index took {OLD_INDEX_BYTES_PER_FILE} bytes per file, so this is "
            f"{per_file / OLD_INDEX_BYTES_PER_FILE:.2f}x of it (goal: at most 1/3: "
            f"{'met' if per_file * 3 <= OLD_INDEX_BYTES_PER_FILE else 'not met'})"
        )

    def search(self) -> None:
        s = self.sizes
        store = self.stores["search"]
        log("search: floors (read every file, stat every file)")
        floor = self.floor_read(store)
        stat_floor = self.floor_stat(store)
        shape = f"{s['search_runs']:,} runs x ({s['metrics']} metrics, {s['params']} params, {s['tags']} tags)"
        empty: Dict[str, Any] = {"cold": [], "warm": [], "facts": None, "timed_out": None}
        for number, query in (("3a", "full"), ("3b", "filtered")):
            log(f"search {query}: litexp")
            cold_fresh = self.search_side("litexp", store, query, with_index=False)
            indexed = self.search_side("litexp", store, query, with_index=True)
            if query == "full":
                self.index_size(store)
            ml = empty
            if self.mlflow:
                log(f"search {query}: MLflow")
                ml = self.search_side("mlflow", store, query, with_index=False)
                self.compare(f"search {query}", indexed, ml)
            self.raw[f"search_{query}"] = {
                "litexp_no_index": cold_fresh,
                "litexp_index": indexed,
                "mlflow": ml,
                "floor": floor,
                "stat_floor": stat_floor,
            }
            if query == "full":
                what = "full frame, `R.search_records([exp])` vs `mlflow.search_runs([exp])`"
                index_goals = [("floor", 1.3)]
            else:
                what = f'`filter_string="{FILTER}"`, `order_by={ORDER_BY}` ({indexed["facts"]["rows"]} rows)'
                index_goals = [("mlflow", 20.0)]
            timeout = ml["timed_out"]
            self.add_row(
                measurement=f"{number}. search {shape}, {what}; cold, no index (first search ever); "
                "floor = read every file",
                litexp=cold_fresh["cold"],
                mlflow=ml["cold"],
                mlflow_timed_out=timeout,
                floor=floor,
                unit="s",
                goals=[("floor", 1.5)] if query == "full" else [],
            )
            self.add_row(
                measurement=f"{number}. same; cold, index left by an earlier process; floor = stat every file",
                litexp=indexed["cold"],
                mlflow=ml["cold"],
                mlflow_timed_out=timeout,
                floor=stat_floor,
                unit="s",
                goals=index_goals,
            )
            self.add_row(
                measurement=f"{number}. same; warm (query repeated in the same process)",
                litexp=indexed["warm"],
                mlflow=ml["warm"],
                mlflow_timed_out=timeout,
                floor=stat_floor,
                unit="s",
                goals=[],
            )

    def long(self) -> None:
        s = self.sizes
        runs, steps = s["long_runs"], s["long_steps"]
        short, longs = self.stores["long-1"], self.stores["long-n"]
        results: Dict[str, Dict[str, Any]] = {}
        empty: Dict[str, Any] = {"cold": [], "warm": [], "facts": None, "timed_out": None}
        for label, store in (("1", short), (str(steps), longs)):
            log(f"long histories: {label}-step store")
            floor = self.floor_read(store)
            no_index = self.search_side("litexp", store, "full", with_index=False, warm=False)
            indexed = self.search_side("litexp", store, "full", with_index=True, warm=False)
            ml = empty
            if self.mlflow and not (self.args.skip_mlflow_long and label != "1"):
                log(f"long histories: {label}-step store, MLflow")
                ml = self.search_side("mlflow", store, "full", with_index=False, warm=False)
                self.compare(f"long histories, {label} step(s)", indexed, ml)
            results[label] = {"floor": floor, "litexp_no_index": no_index, "litexp_index": indexed, "mlflow": ml}
        self.raw["long"] = results
        base, big = results["1"], results[str(steps)]
        what = f"{runs} runs x {s['metrics']} metrics (same runs and latest values in both stores)"
        for kind, text in (
            ("litexp_no_index", "cold, no index"),
            ("litexp_index", "cold, index left by an earlier process"),
        ):
            self.add_row(
                measurement=f"4. full-frame search, {what}, 1 step; {text}",
                litexp=base[kind]["cold"],
                mlflow=base["mlflow"]["cold"],
                mlflow_timed_out=base["mlflow"]["timed_out"],
                floor=base["floor"],
                unit="s",
                goals=[],
            )
            # never searched before: against reading the bytes once; with an index: against the 1-step store
            goals = [("floor", 1.5)] if kind == "litexp_no_index" else [("base", 1.3)]
            self.add_row(
                measurement=f"4. same, {steps:,} steps per metric; {text}",
                litexp=big[kind]["cold"],
                mlflow=big["mlflow"]["cold"],
                mlflow_timed_out=big["mlflow"]["timed_out"],
                floor=big["floor"],
                unit="s",
                goals=goals,
                base=base[kind]["cold"],
            )

    def import_time(self) -> None:
        n = self.args.import_repeats
        log(f"import time: {n} x 2 processes per side")

        def over_bare(side: str, module: str) -> Tuple[float, List[float], List[float]]:
            python, env = self.sides.command(side)
            bare: List[float] = []
            loaded: List[float] = []
            for _ in range(n):  # interleaved, so drift hits both alike
                for code, into in (("pass", bare), (f"import {module}", loaded)):
                    started = time.perf_counter()
                    subprocess.run(python + ["-c", code], cwd=self.sides.cwd, env=env, check=True)
                    into.append(time.perf_counter() - started)
            return median(loaded) - median(bare), bare, loaded  # type: ignore[operator]

        lit, lit_bare, lit_loaded = over_bare("litexp", "litexp")
        ml: List[float] = []
        raw: Dict[str, Any] = {"litexp": {"bare": lit_bare, "import": lit_loaded}}
        if self.mlflow:
            value, ml_bare, ml_loaded = over_bare("mlflow", "mlflow")
            ml = [value]
            raw["mlflow"] = {"bare": ml_bare, "import": ml_loaded}
        self.raw["import"] = raw
        self.add_row(
            measurement=f'5. `python -c "import litexp"` over `python -c pass` '
            f"(median of {n} each; MLflow: `import mlflow`)",
            litexp=[lit],
            mlflow=ml,
            floor=[],
            unit="ms",
            goals=[("abs_ms", 100.0)],
        )

    def memory(self) -> None:
        store = self.stores["search"]
        runs = self.sizes["search_runs"]
        log("memory: tracemalloc peak of the full-frame and the filtered search")
        mb = 2**20

        def params(side: str, query: str = "full") -> Dict[str, Any]:
            return {"side": side, "root": store.root, "experiment_id": store.experiment_id, "query": query}

        store.clear_index()
        fresh = self.sides.run("litexp", "memory", params("litexp"))
        indexed = self.sides.run("litexp", "memory", params("litexp"))
        filtered = self.sides.run("litexp", "memory", params("litexp", "filtered"))
        ml: Dict[str, Any] = {}
        ml_filtered: Dict[str, Any] = {}
        ml_timeout: Optional[float] = None
        if self.mlflow:
            try:
                ml = self.sides.run("mlflow", "memory", params("mlflow"))
                ml_filtered = self.sides.run("mlflow", "memory", params("mlflow", "filtered"))
            except WorkerTimeout as exc:
                ml_timeout = exc.seconds
        self.raw["memory"] = {
            "litexp_no_index": fresh,
            "litexp_index": indexed,
            "litexp_filtered": filtered,
            "mlflow": ml,
            "mlflow_filtered": ml_filtered,
        }
        mlv = [float(ml["peak_bytes"])] if ml else []
        for label, res in (("no index", fresh), ("index left by an earlier process", indexed)):
            self.add_row(
                measurement=f"6. peak traced memory (tracemalloc) of the {runs:,}-run full-frame search ({label}); "
                "floor = `frame.memory_usage(deep=True).sum()`",
                litexp=[float(res["peak_bytes"])],
                mlflow=mlv,
                mlflow_timed_out=ml_timeout,
                floor=[float(res["frame_bytes"])],
                unit="MB",
                goals=[("mlflow_max", 0.5)],
            )
        self.add_row(
            measurement=f"6. same, the filtered, ordered query of row 3b ({filtered['rows']} rows, index left by an "
            "earlier process); floor = its frame",
            litexp=[float(filtered["peak_bytes"])],
            mlflow=[float(ml_filtered["peak_bytes"])] if ml_filtered else [],
            mlflow_timed_out=ml_timeout,
            floor=[float(filtered["frame_bytes"])],
            unit="MB",
            goals=[("floor", 3.0)],
        )
        self.notes.append(
            f"memory: ru_maxrss growth during the search: litexp {fresh['maxrss_growth_bytes'] / mb:.0f} MB "
            f"(no index), {indexed['maxrss_growth_bytes'] / mb:.0f} MB (index), "
            f"{filtered['maxrss_growth_bytes'] / mb:.0f} MB (filtered)"
            + (
                f", MLflow {ml['maxrss_growth_bytes'] / mb:.0f} MB (full), "
                f"{ml_filtered['maxrss_growth_bytes'] / mb:.0f} MB (filtered)"
                if ml and ml_filtered
                else ""
            )
        )

    # 7 ------------------------------------------------------------------
    def server(self) -> None:
        """Logging to a local ``mlflow server`` (``tools/bench_server.py``)."""
        log(f"server: {self.sizes['server_calls']:,} calls (MLflow: {self.sizes['server_mlflow_calls']:,})")
        try:
            bench_server.measure(self, sample, WorkerTimeout)
        except bench_server.ServerFailure as exc:
            raise BenchError(str(exc)) from exc

    # 8 ------------------------------------------------------------------
    def push(self) -> None:
        """``litexp.push()`` of a file store to a fresh local ``mlflow server`` (``tools/bench_push.py``)."""
        log(f"push: {self.sizes['push_runs']:,} runs, a fresh server per sample")
        try:
            bench_push.measure(self, sample, WorkerTimeout)
        except bench_server.ServerFailure as exc:
            raise BenchError(str(exc)) from exc

    def profile(self) -> None:
        store = self.stores["search"]
        log("profiles")
        store.clear_index()
        base = {"what": "search", "root": store.root, "experiment_id": store.experiment_id, "query": "full", "top": 15}
        self.profiles["search, full frame, no index"] = self.sides.run("litexp", "profile", base)
        self.profiles["search, full frame, index left by an earlier process"] = self.sides.run(
            "litexp", "profile", base
        )
        n = self.sizes["log_calls"]
        self.profiles[f"logging, {n:,} calls through R.end_exp()"] = self.sides.run(
            "litexp",
            "profile",
            {"what": "logging", "store": os.path.join(self.fresh_dir("profile"), "mlruns"), "n": n, "top": 15},
        )


# ------------------------------------------------------------------------ report


def _fmt(value: Optional[float], unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB":
        return f"{value / 2**20:,.1f} MB" if value >= 2**20 else f"{value / 2**10:,.0f} KB"
    if unit == "ms":
        return f"{value * 1000:,.0f} ms"
    if unit == "call":
        return f"{value * 1e6:,.1f} µs/call" if value < 1e-3 else f"{value * 1000:,.2f} ms/call"
    if value < 1.0:
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.2f} s"


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _fmt_ratio(value: Optional[float]) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}×" if value >= 10 else f"{value:,.2f}×"


def _cell(values: Sequence[float], unit: str, show_n: bool) -> str:
    med = median(values)
    text = _fmt(med, unit)
    if med is not None and show_n:
        text += f" (n={len(values)})"
    return text


def render_table(rows: List[Dict[str, Any]]) -> str:
    """The markdown table: measurement | litexp | MLflow | ratio | floor | litexp/floor | goal."""
    head = "| measurement | litexp | MLflow | ratio (MLflow/litexp) | floor | litexp/floor | goal |"
    out = [head, "|---|---|---|---|---|---|---|"]
    for row in rows:
        unit = row["unit"]
        show_n = unit in ("s", "call")
        lit, ml, floor = median(row["litexp"]), median(row["mlflow"]), median(row["floor"])
        timed_out = row.get("mlflow_timed_out") if ml is None else None
        low: Optional[float] = None
        ratio = _ratio(ml, lit)
        per_floor = _ratio(lit, floor)
        ml_cell = _cell(row["mlflow"], unit, show_n)
        ratio_cell = _fmt_ratio(ratio)
        if timed_out:
            ml_cell = f"> {_fmt(timed_out, unit)} (killed)" if unit == "call" else f"> {timed_out:,.0f} s (killed)"
            low = _ratio(timed_out, lit) if unit in ("s", "call") else None
            ratio_cell = f"> {_fmt_ratio(low)}" if low is not None else "—"
        goals: List[str] = []
        for kind, target in row["goals"]:
            if kind == "mlflow":
                if ratio is not None:
                    verdict = "met" if ratio >= target else "not met"
                elif timed_out and low is not None and low >= target:
                    verdict = "met"
                else:
                    verdict = "?"
                goals.append(f"≥{target:g}× MLflow: {verdict}")
            elif kind == "mlflow_max":
                r = _ratio(lit, ml)
                verdict = "?" if r is None else ("met" if r <= target else "not met")
                goals.append(f"≤{target:g}× MLflow: {verdict}")
            elif kind == "floor":
                verdict = "?" if per_floor is None else ("met" if per_floor <= target else "not met")
                goals.append(f"≤{target:g}× floor: {verdict}")
            elif kind == "base":
                r = _ratio(lit, median(row["base"]))
                verdict = "?" if r is None else ("met" if r <= target else "not met")
                goals.append(f"≤{target:g}× {row.get('base_name', '1-step')}: {_fmt_ratio(r)}, {verdict}")
            elif kind == "per_runs":
                runs, scaled = row["goal_runs"], None
                if lit is not None:
                    scaled = lit * runs / row["runs"]
                verdict = "?" if scaled is None else ("met" if scaled <= target else "not met")
                shown = "" if scaled is None else f"{_fmt(scaled, 's')} at this rate, "
                goals.append(f"{runs:,} runs ≤{target:g} s: {shown}{verdict}")
            elif kind == "abs_ms":
                verdict = "?" if lit is None else ("met" if lit * 1000 <= target else "not met")
                goals.append(f"≤{target:g} ms: {verdict}")
        lit_cell = _cell(row["litexp"], unit, show_n)
        if row.get("litexp_extra"):
            lit_cell += "; " + row["litexp_extra"]
        cells = [
            row["measurement"],
            lit_cell,
            ml_cell,
            ratio_cell,
            _cell(row["floor"], unit, show_n),
            _fmt_ratio(per_floor),
            "; ".join(goals) if goals else "—",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def render_report(facts: Dict[str, str], sizes: Dict[str, int], bench: Bench, args: argparse.Namespace) -> str:
    """Machine facts, the table, notes and (with ``--profile``) the profiles, as markdown."""
    lines = ["## litexp benchmark", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines.append(
        f"- repeats: up to {args.repeats} processes per cell within {args.budget:g} s, "
        f"warm: up to {args.warm_repeats} queries; medians; n = samples"
    )
    lines.append("- sizes: " + ", ".join(f"{k}={v:,}" for k, v in sizes.items()))
    lines += ["", render_table(bench.rows), ""]
    if bench.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in bench.notes] + [""]
    for title, prof in bench.profiles.items():
        for order in ("cumulative", "tottime"):
            lines += [f"### profile: {title}, by {order}", "", "```", prof[order].strip(), "```", ""]
    return "\n".join(lines)


# -------------------------------------------------------------------------- main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--skip-mlflow", action="store_true", help="measure litexp only")
    parser.add_argument("--skip-mlflow-long", action="store_true", help="no MLflow search on the long-history store")
    parser.add_argument("--json", dest="json_out", help="write every sample and the rows here")
    parser.add_argument("--workdir", help="folder for stores and scratch runs (kept; stores are reused)")
    parser.add_argument("--venv-dir", default=str(REPO / ".bench-venv"), help="cached MLflow virtualenv")
    parser.add_argument("--mlflow-python", help="use this Python (with mlflow installed) instead of the virtualenv")
    parser.add_argument("--repeats", type=int, default=3, help="max processes per cell (default %(default)s)")
    parser.add_argument("--warm-repeats", type=int, default=3, help="max warm queries (default %(default)s)")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds after which a cell stops repeating")
    parser.add_argument("--import-repeats", type=int, default=10)
    parser.add_argument(
        "--mlflow-timeout",
        type=float,
        default=900.0,
        help="kill an MLflow worker after this many seconds (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only",
        help="comma-separated subset, by name or number: "
        + ",".join(f"{i}={name}" for i, name in enumerate(MEASUREMENTS, 1)),
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile tables of litexp's search and logging"
    )
    for key in FULL_SIZES:
        parser.add_argument("--" + key.replace("_", "-"), type=int, help=f"override the size {key}")
    parser.add_argument("--runs", dest="search_runs", type=int, help="runs of the search store (= --search-runs)")
    return parser.parse_args(argv)


def _measurement_name(text: str) -> str:
    """A measurement's name from its name or its number (1-based, as in the table)."""
    text = text.strip()
    if text.isdigit() and 1 <= int(text) <= len(MEASUREMENTS):
        return MEASUREMENTS[int(text) - 1]
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print the markdown report on stdout (progress on stderr)."""
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if raw_argv[:1] == ["--worker"]:
        return worker_main(raw_argv[1], raw_argv[2])
    args = parse_args(raw_argv)
    sizes = dict(QUICK_SIZES if args.quick else FULL_SIZES)
    for key in sizes:
        value = getattr(args, key)
        if value is not None:
            sizes[key] = value
    only = set(MEASUREMENTS) if not args.only else {_measurement_name(x) for x in args.only.split(",") if x.strip()}
    unknown = only - set(MEASUREMENTS)
    if unknown:
        raise SystemExit(f"unknown measurement(s): {', '.join(sorted(unknown))}")

    temporary = args.workdir is None
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="litexp-bench-"))
    os.makedirs(workdir, exist_ok=True)
    scratch = os.path.join(workdir, "scratch")
    if os.path.isdir(scratch):
        shutil.rmtree(scratch)
    cwd = os.path.join(workdir, "cwd")
    os.makedirs(cwd, exist_ok=True)

    mlflow_python: Optional[str] = None
    if not args.skip_mlflow:
        mlflow_python = args.mlflow_python or ensure_mlflow_venv(Path(args.venv_dir).resolve())
    sides = Sides(cwd, mlflow_python, args.mlflow_timeout)
    facts = machine_facts(sides, workdir)
    bench = Bench(args, sides, workdir, sizes)
    if _inside_git(cwd):
        bench.notes.append(f"the working folder {cwd} is inside a git work tree: both sides record git state")
    failed = False
    try:
        bench.prepare_stores(search=bool(only & {"search", "memory"}) or args.profile, long="long" in only)
        steps = [name for name in MEASUREMENTS if name in only] + (["profile"] if args.profile else [])
        for name in steps:
            try:
                getattr(bench, name if name != "import" else "import_time")()
            except (BenchError, subprocess.SubprocessError, OSError) as exc:
                log(f"{name} failed: {exc}")
                bench.notes.append(f"{name} FAILED: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}")
                failed = True
    finally:
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        facts["load average at end"] = " ".join(f"{x:.2f}" for x in load)
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
        elif os.path.isdir(scratch):
            shutil.rmtree(scratch, ignore_errors=True)
    report = render_report(facts, sizes, bench, args)
    print(report)
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(
                {
                    "facts": facts,
                    "sizes": sizes,
                    "rows": bench.rows,
                    "raw": bench.raw,
                    "notes": bench.notes,
                    "profiles": bench.profiles,
                },
                handle,
                indent=1,
                default=str,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
