"""Measurement 7 of ``tools/bench.py``: logging to a local ``mlflow server``.

The bench starts one server from MLflow's Python (SQLite backend,
``--serve-artifacts --artifacts-destination``, 127.0.0.1, ``--workers 1``, job
execution off), runs every sample of the row against it and stops its whole
process group at the end, also on failure, Ctrl-C or SIGTERM. Three workers,
each in a fresh process started by ``bench.py``:

- litexp: ``R.log_metrics(step=i, loss=...)`` n times through ``R.end_exp()``
  (the process must not import mlflow);
- MLflow: ``mlflow.log_metric("loss", ..., step=i)`` n times through
  ``mlflow.end_run()``, with ``MLFLOW_TRACKING_URI`` pointing at the server;
- floor: the same n points POSTed as ``runs/log-batch`` requests of 1,000 metrics
  with ``http.client`` on one keep-alive connection to an existing run (bodies
  encoded before the clock starts).

The server's requests are counted from uvicorn's access log between two marker
requests (``GET /health?bench-mark=...``) sent around each worker, and every
run's history is read back with ``metrics/get-history`` (paged): a run missing
a point fails the row.
"""

from __future__ import annotations

import collections
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any, Callable, Counter, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Type

API = "/api/2.0/mlflow/"
BATCH = 1000
HISTORY_PAGE = 5000
KEY = "loss"
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')
LOG_BATCH = ("POST", API + "runs/log-batch")
LOG_METRIC = ("POST", API + "runs/log-metric")
WRITES = frozenset({API + "runs/log-batch", API + "runs/log-metric", API + "runs/update"})
WORKER_ENV = {
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


class ServerFailure(RuntimeError):
    """The server could not be started, a worker failed, or a run lost points."""


# --------------------------------------------------------------------------- workers


def worker_litexp(p: Dict[str, Any]) -> Dict[str, Any]:
    """``R.log_metrics`` p["n"] times in one run on the server; time from the first call through ``R.end_exp()``."""
    from litexp import R

    R.start_exp(experiment_name=p["experiment"], uri=p["uri"])
    run_id = R.get_recorder().id
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        R.log_metrics(step=i, loss=1.0 / (i + 1))
    R.end_exp()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "run_id": run_id, "mlflow_imported": "mlflow" in sys.modules}


def worker_mlflow(p: Dict[str, Any]) -> Dict[str, Any]:
    """``mlflow.log_metric`` p["n"] times in one run (tracking URI from the environment), through ``end_run()``."""
    import mlflow

    mlflow.set_experiment(p["experiment"])
    run = mlflow.start_run()
    n = p["n"]
    started = time.perf_counter()
    for i in range(n):
        mlflow.log_metric(KEY, 1.0 / (i + 1), step=i)
    mlflow.end_run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "run_id": run.info.run_id, "tracking_uri": mlflow.get_tracking_uri()}


def _call(
    conn: http.client.HTTPConnection,
    method: str,
    endpoint: str,
    body: Optional[Dict[str, Any]] = None,
    query: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    path = API + endpoint + ("?" + urllib.parse.urlencode(query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, data, headers)
    response = conn.getresponse()
    text = response.read()
    if response.status != 200:
        raise ServerFailure(f"{method} {endpoint}: HTTP {response.status}: {text[:300]!r}")
    return json.loads(text) if text else {}


def _connect(uri: str, timeout: float = 120.0) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(uri)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)


def _experiment_id(conn: http.client.HTTPConnection, name: str) -> str:
    try:
        return str(
            _call(conn, "GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"][
                "experiment_id"
            ]
        )
    except ServerFailure as exc:
        if "HTTP 404" not in str(exc):
            raise
    return str(_call(conn, "POST", "experiments/create", {"name": name})["experiment_id"])


def worker_floor(p: Dict[str, Any]) -> Dict[str, Any]:
    """POST p["n"] points as ``runs/log-batch`` requests of ``BATCH`` metrics on one keep-alive connection."""
    conn = _connect(p["uri"])
    experiment_id = _experiment_id(conn, p["experiment"])
    now = int(time.time() * 1000)
    run_id = str(
        _call(conn, "POST", "runs/create", {"experiment_id": experiment_id, "start_time": now})["run"]["info"]["run_id"]
    )
    n = p["n"]
    bodies = [
        json.dumps(
            {
                "run_id": run_id,
                "metrics": [
                    {"key": KEY, "value": 1.0 / (i + 1), "timestamp": now, "step": i}
                    for i in range(start, min(n, start + BATCH))
                ],
            }
        ).encode()
        for start in range(0, n, BATCH)
    ]
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        conn.request("POST", LOG_BATCH[1], body, headers)
        response = conn.getresponse()
        text = response.read()
        if response.status != 200:
            raise ServerFailure(f"log-batch: HTTP {response.status}: {text[:300]!r}")
    seconds = time.perf_counter() - started
    _call(conn, "POST", "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})
    conn.close()
    return {"seconds": seconds, "run_id": run_id, "requests": len(bodies)}


WORKERS: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    "server-litexp": worker_litexp,
    "server-mlflow": worker_mlflow,
    "server-floor": worker_floor,
}


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "\n".join(handle.read().splitlines()[-lines:])
    except OSError:
        return ""


class MlflowServer:
    """One ``mlflow server`` in its own process group, with its access log in a file."""

    def __init__(self, python: str, folder: str, env: Dict[str, str], startup_timeout: float = 180.0) -> None:
        self.python = python
        self.folder = folder
        self.env = dict(env, PYTHONUNBUFFERED="1", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
            self.env.pop(name, None)
        self.startup_timeout = startup_timeout
        self.access_log = os.path.join(folder, "access.log")
        self.server_log = os.path.join(folder, "server.log")
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.port = 0
        self.startup_seconds = 0.0
        self._old_sigterm: Any = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> List[str]:
        return [
            self.python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            "sqlite:///" + os.path.join(self.folder, "mlflow.db"),
            "--serve-artifacts",
            "--artifacts-destination",
            os.path.join(self.folder, "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]

    def __enter__(self) -> "MlflowServer":
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        try:
            self.stop()
        finally:
            if self._old_sigterm is not None:
                signal.signal(signal.SIGTERM, self._old_sigterm)
                self._old_sigterm = None

    def start(self, attempts: int = 3) -> None:
        """Start the server on a free port; retried on another port when someone else answers on it."""
        os.makedirs(self.folder, exist_ok=True)
        problem = ""
        for _ in range(attempts):
            started = time.perf_counter()
            self.port = free_port()
            with open(self.access_log, "ab") as out, open(self.server_log, "ab") as err:
                self.proc = subprocess.Popen(
                    self.command(self.port),
                    cwd=self.folder,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            try:
                self._wait_healthy()
                self.mark()
            except ServerFailure as exc:
                problem = str(exc)
                self.stop()
                continue
            self.startup_seconds = time.perf_counter() - started
            return
        raise ServerFailure(f"mlflow server did not start: {problem}")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise ServerFailure(f"it exited:\n{_tail(self.server_log)}")
            try:
                conn = _connect(self.uri, timeout=5.0)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.25)
        raise ServerFailure(f"no answer on {self.uri} within {self.startup_timeout:g} s:\n{_tail(self.server_log)}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``grace`` seconds; idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                proc.poll()
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    proc.poll()
                    return
                time.sleep(0.1)
        proc.poll()

    # access log ------------------------------------------------------------------------
    def lines(self) -> List[str]:
        with open(self.access_log, errors="replace") as handle:
            return handle.read().splitlines()

    def mark(self, timeout: float = 15.0) -> int:
        """Send a marker request; the index of its access-log line (ServerFailure when it does not show)."""
        token = uuid.uuid4().hex
        conn = _connect(self.uri, timeout=timeout)
        try:
            conn.request("GET", f"/health?bench-mark={token}")
            conn.getresponse().read()
        except OSError as exc:
            raise ServerFailure(f"marker request to {self.uri} failed: {exc}") from None
        finally:
            conn.close()
        deadline = time.monotonic() + timeout
        while True:
            for index, line in enumerate(self.lines()):
                if token in line:
                    return index
            if time.monotonic() > deadline:
                raise ServerFailure(
                    f"the marker request does not show in {self.access_log}; another process may answer on {self.uri}"
                )
            time.sleep(0.05)

    def requests_between(self, start: int, end: int) -> Counter[Tuple[str, str, int]]:
        """(method, path, status) counts of the access-log lines strictly between two markers."""
        counts: Counter[Tuple[str, str, int]] = collections.Counter()
        for line in self.lines()[start + 1 : end]:
            match = ACCESS_LINE.search(line)
            if match:
                path = match.group("target").split("?", 1)[0]
                counts[(match.group("method"), path, int(match.group("status")))] += 1
        return counts


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- checks


def history(uri: str, run_id: str, key: str = KEY, page: int = HISTORY_PAGE) -> Iterator[Dict[str, Any]]:
    """Every point of a metric, read with ``metrics/get-history`` pages of ``page`` points."""
    conn = _connect(uri)
    try:
        token: Optional[str] = None
        while True:
            query: Dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": page}
            if token:
                query["page_token"] = token
            answer = _call(conn, "GET", "metrics/get-history", query=query)
            yield from answer.get("metrics") or ()
            token = answer.get("next_page_token")
            if not token:
                return
    finally:
        conn.close()


def missing_points(uri: str, run_id: str, n: int) -> Optional[str]:
    """What is wrong with the run's ``loss`` history (None when it holds steps 0..n-1 with 1/(i+1))."""
    points = list(history(uri, run_id))
    steps = sorted(int(p.get("step", 0)) for p in points)
    if len(points) != n or steps != list(range(n)):
        return f"run {run_id}: {len(points):,} of {n:,} points arrived ({len(set(steps)):,} distinct steps)"
    bad = [p for p in points if not math.isclose(float(p["value"]), 1.0 / (int(p.get("step", 0)) + 1))]
    if bad:
        return f"run {run_id}: {len(bad):,} point(s) with a wrong value, e.g. {bad[0]}"
    return None


# ---------------------------------------------------------------------------- driver


class _Sides(Protocol):
    mlflow_python: Optional[str]
    mlflow_env: Dict[str, str]
    litexp_env: Dict[str, str]

    def run(
        self,
        side: str,
        worker: str,
        params: Dict[str, Any],
        timeout: Optional[float] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]: ...


class _Bench(Protocol):
    args: Any
    sizes: Dict[str, int]
    mlflow: bool
    notes: List[str]
    raw: Dict[str, Any]

    @property
    def sides(self) -> _Sides: ...

    def fresh_dir(self, label: str) -> str: ...

    def add_row(self, **row: Any) -> None: ...


Sampler = Callable[[Callable[[int], float], int, float], List[float]]


def _spread(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


class ServerRow:
    """Samples of the three workers against one server, checked and counted; then the table row."""

    def __init__(
        self, bench: _Bench, server: MlflowServer, sample: Sampler, timeout_error: Type[BaseException]
    ) -> None:
        self.bench = bench
        self.server = server
        self.sample = sample
        self.timeout_error = timeout_error
        self.env = dict(
            WORKER_ENV,
            MLFLOW_TRACKING_URI=server.uri,
            LITEXP_SPOOL_DIR=os.path.join(bench.fresh_dir("server-spool"), "spool"),
        )
        self.problems: List[str] = []
        self.results: Dict[str, List[Dict[str, Any]]] = {"litexp": [], "mlflow": [], "floor": []}

    def one(self, side: str, worker: str, experiment: str, n: int, timeout: Optional[float]) -> Dict[str, Any]:
        """One worker between two markers: its result with the request counts and the history check."""
        start = self.server.mark()
        result = self.bench.sides.run(
            side,
            worker,
            {"uri": self.server.uri, "experiment": experiment, "n": n},
            timeout=timeout,
            extra_env=self.env,
        )
        end = self.server.mark()
        counts = self.server.requests_between(start, end)
        result["requests"] = sum(counts.values())
        result["log_batch"] = sum(c for (m, path, _), c in counts.items() if (m, path) == LOG_BATCH)
        result["log_batch_ok"] = counts.get(LOG_BATCH + (200,), 0)
        result["log_metric"] = sum(c for (m, path, _), c in counts.items() if (m, path) == LOG_METRIC)
        result["not_ok"] = {f"{m} {path} {s}": c for (m, path, s), c in counts.items() if s != 200}
        refused = {
            f"{m} {path} {s}": c for (m, path, s), c in counts.items() if s >= 500 or (path in WRITES and s != 200)
        }
        if refused:
            self.problems.append(f"{worker}: requests the server did not take: {refused}")
        result["calls"] = n
        problem = missing_points(self.server.uri, result["run_id"], n)
        if problem:
            self.problems.append(f"{worker}: {problem}")
        return result

    def samples(self, label: str, worker: str, n: int, side: str = "litexp") -> Tuple[List[float], Optional[float]]:
        """Per-call seconds of up to ``--repeats`` processes within ``--budget``; the per-call limit on a kill."""
        args = self.bench.args
        timeout = args.mlflow_timeout

        def run(_: int) -> float:
            result = self.one(side, worker, f"bench-server-{label}", n, timeout)
            self.results[label].append(result)
            return float(result["seconds"]) / n

        try:
            return self.sample(run, args.repeats, args.budget), None
        except self.timeout_error as exc:
            if side != "mlflow":
                raise
            return [float(r["seconds"]) / n for r in self.results[label]], float(getattr(exc, "seconds", 0.0)) / n

    def measure(self) -> None:
        bench = self.bench
        n, n_ml = bench.sizes["server_calls"], bench.sizes["server_mlflow_calls"]
        self.one("litexp", "server-floor", "bench-server-warmup", n, None)
        floor, _ = self.samples("floor", "server-floor", n)
        lit, _ = self.samples("litexp", "server-litexp", n)
        ml: List[float] = []
        ml_timeout: Optional[float] = None
        if bench.mlflow:
            ml, ml_timeout = self.samples("mlflow", "server-mlflow", n_ml, side="mlflow")
        lit_res, ml_res = self.results["litexp"], self.results["mlflow"]
        for res in lit_res:
            if res.get("mlflow_imported"):
                self.problems.append("server-litexp: mlflow was imported in the litexp worker")
        for res in ml_res:
            if res.get("tracking_uri") != self.server.uri:
                self.problems.append(f"server-mlflow: tracking URI {res.get('tracking_uri')!r}, not {self.server.uri}")
        bench.raw["server"] = {
            "uri": self.server.uri,
            "startup_seconds": self.server.startup_seconds,
            "per_call": {"litexp": lit, "mlflow": ml, "floor": floor},
            "mlflow_timed_out_per_call": ml_timeout,
            "runs": self.results,
        }
        extra = ""
        if lit_res:
            extra = (
                f"{_spread([r['log_batch'] for r in lit_res])} log-batch POSTs/run "
                f"({_spread([r['requests'] for r in lit_res])} requests in all)"
            )
        if self.problems:
            extra = "FAILED: " + self.problems[0] + (f"; {extra}" if extra else "")
        what = f"{n:,}" + (f" (MLflow: {n_ml:,})" if bench.mlflow and n_ml != n else "")
        bench.add_row(
            measurement=f"7. logging to a local `mlflow server` (SQLite, --workers 1): {what} "
            '`R.log_metrics(step=i, loss=...)` vs `mlflow.log_metric("loss", ..., step=i)` calls '
            "in one run through `R.end_exp()` / `mlflow.end_run()`, per call; "
            f"floor = {n:,} points as log-batch POSTs of {BATCH:,} on one keep-alive connection",
            litexp=lit,
            mlflow=ml,
            mlflow_timed_out=ml_timeout,
            floor=floor,
            unit="call",
            goals=[("mlflow", 50.0)],
            litexp_extra=extra,
        )
        if ml_res:
            bench.notes.append(
                f"server: MLflow's client sent {_spread([r['requests'] for r in ml_res])} requests per "
                f"{n_ml:,}-call run ({_spread([r['log_metric'] for r in ml_res])} runs/log-metric)"
            )
        bench.notes.append(
            f"server: {self.server.uri}, started in {self.server.startup_seconds:.1f} s from MLflow's Python "
            "(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false); one untimed floor run warmed it up; every run's "
            "history was read back with metrics/get-history" + ("" if self.problems else " and held all its points")
        )
        if self.problems:
            raise ServerFailure("; ".join(self.problems))


def measure(bench: _Bench, sample: Sampler, timeout_error: Type[BaseException]) -> None:
    """Row 7: start the server, sample the three workers against it, stop the server (always)."""
    python = bench.sides.mlflow_python or getattr(bench.args, "mlflow_python", None)
    if not python:
        bench.notes.append(
            "7. logging to a local mlflow server: skipped, it needs MLflow's Python "
            "(run without --skip-mlflow, or give --mlflow-python)"
        )
        return
    folder = os.path.join(bench.fresh_dir("server"), "server")
    with MlflowServer(python, folder, bench.sides.mlflow_env) as server:
        ServerRow(bench, server, sample, timeout_error).measure()
