"""Measurement 8 of ``tools/bench.py``: ``litexp push`` of a file store to a local ``mlflow server``.

The source store (N runs, each with 5 params, 5 metrics x 10 steps, 2 tags and one
1 KB artifact, finished) is written once with litexp's store API in a worker and
reused. Every sample starts a fresh server (the kind of row 7: SQLite,
``--serve-artifacts``, ``--workers 1``) so that it copies everything:

- litexp: ``litexp.push(source, server)`` in a fresh process of the litexp Python
  (``LITEXP_SPOOL_DIR`` in a scratch folder), then a second push of the same store
  to the same server (nothing to copy);
- floor: the same data sent by ``http.client`` on one keep-alive connection with the
  fewest requests: per run ``runs/create``, one ``runs/log-batch`` (params, tags and
  metrics), one artifact ``PUT`` and ``runs/update`` (bodies encoded before the clock).

After each first push (and each floor) the server is read back: the runs with
``runs/search`` (paged), every metric history with ``metrics/get-history``, the
artifact files in the artifacts folder. A sample missing a run, a point or an
artifact, or whose report does not add up, fails the row. Requests are counted per
endpoint from the server's access log between marker requests.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import shutil
import statistics
import sys
import time
from typing import Any, Callable, Counter, Dict, List, Optional, Protocol, Tuple, Type

from bench_server import (
    ACCESS_LINE,
    API,
    WORKER_ENV,
    MlflowServer,
    ServerFailure,
    _Bench,
    _call,
    _connect,
    _experiment_id,
)

EXPERIMENT = "bench-push"
PARAMS = 5
METRICS = 5
STEPS = 10
TAGS = 2
ARTIFACT = "data.bin"
ARTIFACT_BYTES = 1024
SEARCH_PAGE = 500
BASE_MS = 1_700_000_000_000
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts/"
PLACEHOLDER = "0" * 32
GOAL_RUNS = 200
GOAL_SECONDS = 20.0  # "pushes in seconds": well under half a minute
RUN_ID_IN_PATH = re.compile(r"/[0-9a-f]{32}(?=/|$)")


# ------------------------------------------------------------------------------ data


def run_content(i: int) -> Dict[str, Any]:
    """Run ``i`` of the source store: name, times, params, tags, metric points, artifact bytes."""
    return {
        "name": f"run-{i:05d}",
        "start": BASE_MS + i * 1000,
        "end": BASE_MS + i * 1000 + 500,
        "params": {f"p{k}": f"v{i}-{k}" for k in range(PARAMS)},
        "tags": {"group": f"g{i % 10}", "note": f"run number {i}"},
        "metrics": [
            (f"m{k}", math.sin(i + k * 0.1 + s * 0.01), BASE_MS + i * 1000 + s, s)
            for k in range(METRICS)
            for s in range(STEPS)
        ],
        "artifact": bytes((i * 31 + j) % 256 for j in range(ARTIFACT_BYTES)),
    }


def worker_write(p: Dict[str, Any]) -> Dict[str, Any]:
    """Write the source store of p["runs"] runs under p["root"] with litexp's store API."""
    from litexp.store import open_store

    store = open_store("file:" + p["root"], create=True)
    experiment, _ = store.get_or_create_experiment(EXPERIMENT)
    folder = os.path.join(p["scratch"], "artifact")
    os.makedirs(folder, exist_ok=True)
    local = os.path.join(folder, ARTIFACT)
    started = time.perf_counter()
    for i in range(p["runs"]):
        data = run_content(i)
        run = store.create_run(
            experiment.experiment_id, data["name"], "bench", data["start"], data["tags"], params=data["params"]
        )
        store.log_batch(run.run_id, data["metrics"])
        with open(local, "wb") as handle:
            handle.write(data["artifact"])
        store.log_artifact(run.run_id, local)
        store.update_run(run.run_id, "FINISHED", data["end"])
    return {"seconds": time.perf_counter() - started, "experiment_id": experiment.experiment_id}


def worker_push(p: Dict[str, Any]) -> Dict[str, Any]:
    """``litexp.push(p["source"], p["uri"])``: the report and the seconds it took."""
    import dataclasses

    import litexp

    started = time.perf_counter()
    report = litexp.push(p["source"], p["uri"], progress=None)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "report": dataclasses.asdict(report), "mlflow_imported": "mlflow" in sys.modules}


def worker_floor(p: Dict[str, Any]) -> Dict[str, Any]:
    """The same runs with the fewest requests on one keep-alive ``http.client`` connection."""
    conn = _connect(p["uri"])
    experiment_id = _experiment_id(conn, EXPERIMENT)
    json_headers = {"Content-Type": "application/json"}
    octets = {"Content-Type": "application/octet-stream"}
    prepared: List[Tuple[bytes, bytes, bytes, bytes]] = []
    for i in range(p["runs"]):
        data = run_content(i)
        create = json.dumps(
            {"experiment_id": experiment_id, "user_id": "bench", "run_name": data["name"], "start_time": data["start"]}
        ).encode()
        batch = json.dumps(
            {
                "run_id": PLACEHOLDER,
                "params": [{"key": k, "value": v} for k, v in data["params"].items()],
                "tags": [{"key": k, "value": v} for k, v in data["tags"].items()],
                "metrics": [{"key": k, "value": v, "timestamp": t, "step": s} for k, v, t, s in data["metrics"]],
            }
        ).encode()
        update = json.dumps({"run_id": PLACEHOLDER, "status": "FINISHED", "end_time": data["end"]}).encode()
        prepared.append((create, batch, data["artifact"], update))

    spent: Dict[str, float] = collections.defaultdict(float)

    def send(method: str, path: str, body: bytes, headers: Dict[str, str], name: str) -> bytes:
        began = time.perf_counter()
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        text = response.read()
        spent[name] += time.perf_counter() - began
        if response.status != 200:
            raise ServerFailure(f"{method} {path}: HTTP {response.status}: {text[:300]!r}")
        return text

    requests = 0
    started = time.perf_counter()
    for create, batch, artifact, update in prepared:
        run = json.loads(send("POST", API + "runs/create", create, json_headers, "runs/create"))["run"]["info"]
        run_id = run["run_id"].encode()
        send(
            "POST",
            API + "runs/log-batch",
            batch.replace(PLACEHOLDER.encode(), run_id, 1),
            json_headers,
            "runs/log-batch",
        )
        base = run["artifact_uri"].split(":", 1)[1].strip("/")
        send("PUT", ARTIFACTS_API + base + "/" + ARTIFACT, artifact, octets, "artifact PUT")
        send("POST", API + "runs/update", update.replace(PLACEHOLDER.encode(), run_id, 1), json_headers, "runs/update")
        requests += 4
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "requests_sent": requests, "seconds_by_endpoint": dict(spent)}


WORKERS: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    "push-write": worker_write,
    "push-litexp": worker_push,
    "push-floor": worker_floor,
}


# ---------------------------------------------------------------------------- checks


def search_runs(uri: str, experiment_id: str, page: int = SEARCH_PAGE) -> Tuple[List[Dict[str, Any]], int]:
    """Every run of the experiment with ``runs/search`` pages of ``page``; the runs and the page count."""
    conn = _connect(uri)
    runs: List[Dict[str, Any]] = []
    pages = 0
    try:
        token: Optional[str] = None
        while True:
            body: Dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": page, "run_view_type": "ALL"}
            if token:
                body["page_token"] = token
            answer = _call(conn, "POST", "runs/search", body)
            pages += 1
            runs.extend(answer.get("runs") or ())
            token = answer.get("next_page_token")
            if not token:
                return runs, pages
    finally:
        conn.close()


def count_points(uri: str, run_ids: List[str], keys: List[str]) -> Dict[str, int]:
    """Points of every (run, key) read with ``metrics/get-history`` (one page each) on one connection."""
    conn = _connect(uri)
    counts: Dict[str, int] = {}
    try:
        for run_id in run_ids:
            total = 0
            for key in keys:
                answer = _call(
                    conn, "GET", "metrics/get-history", query={"run_id": run_id, "metric_key": key, "max_results": 1000}
                )
                if answer.get("next_page_token"):
                    raise ServerFailure(f"run {run_id}: metric {key} has more than 1,000 points")
                total += len(answer.get("metrics") or ())
            counts[run_id] = total
    finally:
        conn.close()
    return counts


def artifact_files(folder: str) -> Tuple[int, int]:
    """Files named like the artifact under the server's artifacts folder, and how many have the right size."""
    found = right = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            if name == ARTIFACT:
                found += 1
                right += os.path.getsize(os.path.join(parent, name)) == ARTIFACT_BYTES
    return found, right


def check_copy(server: MlflowServer, runs: int) -> Tuple[List[str], Dict[str, Any]]:
    """What is missing on the server after a full copy of ``runs`` runs (empty when all arrived)."""
    conn = _connect(server.uri)
    try:
        experiment_id = str(
            _call(conn, "GET", "experiments/get-by-name", query={"experiment_name": EXPERIMENT})["experiment"][
                "experiment_id"
            ]
        )
    finally:
        conn.close()
    found, pages = search_runs(server.uri, experiment_id)
    problems: List[str] = []
    names = {str(r["info"].get("run_name")) for r in found}
    if len(found) != runs or len(names) != runs:
        problems.append(f"{len(found):,} runs ({len(names):,} names) on the server instead of {runs:,}")
    short = 0
    for run in found:
        data = run.get("data") or {}
        tags = {t["key"] for t in data.get("tags") or ()}
        if (
            len(data.get("params") or ()) != PARAMS
            or len(data.get("metrics") or ()) != METRICS
            or not {"group", "note"} <= tags
            or run["info"].get("status") != "FINISHED"
        ):
            short += 1
    if short:
        problems.append(f"{short:,} runs without all their params, latest metrics, tags or FINISHED status")
    points = count_points(server.uri, [r["info"]["run_id"] for r in found], [f"m{k}" for k in range(METRICS)])
    total = sum(points.values())
    per_run = METRICS * STEPS
    if total != runs * per_run or any(c != per_run for c in points.values()):
        problems.append(f"{total:,} points on the server instead of {runs * per_run:,}")
    files, right = artifact_files(os.path.join(server.folder, "artifacts"))
    if files != runs or right != runs:
        problems.append(f"{files:,} artifact files ({right:,} of {ARTIFACT_BYTES:,} bytes) instead of {runs:,}")
    return problems, {"runs": len(found), "search_pages": pages, "points": total, "artifacts": files}


def endpoint_counts(server: MlflowServer, start: int, end: int) -> Counter[str]:
    """``METHOD endpoint status`` counts between two markers (run ids in paths folded to ``<run>``)."""
    counts: Counter[str] = collections.Counter()
    for line in server.lines()[start + 1 : end]:
        match = ACCESS_LINE.search(line)
        if match:
            path = match.group("target").split("?", 1)[0]
            path = RUN_ID_IN_PATH.sub("/<run>", path.replace(API, "").replace("/api/2.0/", ""))
            counts[f"{match.group('method')} {path} {match.group('status')}"] += 1
    return counts


# ---------------------------------------------------------------------------- driver


class _PushBench(_Bench, Protocol):
    workdir: str


Sampler = Callable[[Callable[[int], float], int, float], List[float]]


def source_store(bench: _PushBench, runs: int) -> Tuple[str, Dict[str, Any]]:
    """The source store of ``runs`` runs under ``workdir/stores`` (written once, then reused)."""
    folder = os.path.join(bench.workdir, "stores", f"push-r{runs}-v1")
    summary_path = os.path.join(folder, "summary.json")
    root = os.path.join(folder, "mlruns")
    if os.path.isfile(summary_path):
        with open(summary_path) as handle:
            return root, json.load(handle)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    summary = bench.sides.run(
        "litexp", "push-write", {"root": root, "runs": runs, "scratch": folder}, extra_env=dict(WORKER_ENV)
    )
    with open(summary_path, "w") as handle:
        json.dump(summary, handle)
    return root, summary


def _summary(counts: Counter[str]) -> str:
    return ", ".join(f"{name} × {n:,}" for name, n in counts.most_common())


class PushRow:
    """Samples of the floor and of litexp's two pushes, each first copy on a fresh server."""

    def __init__(self, bench: _PushBench, python: str, sample: Sampler, timeout_error: Type[BaseException]) -> None:
        self.bench = bench
        self.python = python
        self.sample = sample
        self.timeout_error = timeout_error
        self.runs = bench.sizes["push_runs"]
        self.source, self.written = source_store(bench, self.runs)
        self.problems: List[str] = []
        self.results: Dict[str, List[Dict[str, Any]]] = {"litexp": [], "floor": []}

    def _run(self, worker: str, params: Dict[str, Any], env: Dict[str, str]) -> Dict[str, Any]:
        try:
            started = time.perf_counter()
            result = self.bench.sides.run(
                "litexp", worker, params, timeout=self.bench.args.mlflow_timeout, extra_env=env
            )
        except self.timeout_error as exc:
            raise ServerFailure(f"{worker}: {exc}") from None
        result["process_seconds"] = time.perf_counter() - started
        return result

    def _server(self, label: str) -> MlflowServer:
        """A fresh server (started by ``with``), its tracking store warmed by one ``experiments/get``."""
        return MlflowServer(
            self.python, os.path.join(self.bench.fresh_dir(label), "server"), self.bench.sides.mlflow_env
        )

    @staticmethod
    def _warm(server: MlflowServer) -> None:
        conn = _connect(server.uri)
        try:
            _call(conn, "GET", "experiments/get", query={"experiment_id": "0"})
        finally:
            conn.close()

    def _check(self, label: str, server: MlflowServer, result: Dict[str, Any]) -> None:
        problems, facts = check_copy(server, self.runs)
        result["check"] = facts
        self.problems.extend(f"{label}: {p}" for p in problems)

    def litexp(self, _: int) -> float:
        """One fresh server: the first push (checked) and the second; the first push's seconds."""
        with self._server("push") as server:
            self._warm(server)
            env = dict(WORKER_ENV, LITEXP_SPOOL_DIR=os.path.join(self.bench.fresh_dir("push-spool"), "spool"))
            params = {"source": "file:" + self.source, "uri": server.uri}
            out: Dict[str, Any] = {"server_startup_seconds": server.startup_seconds}
            for name in ("first", "second"):
                start = server.mark()
                out[name] = result = self._run("push-litexp", params, env)
                result["requests"] = dict(endpoint_counts(server, start, server.mark()))
            first, second = out["first"], out["second"]
            self._check("first push", server, first)
            self._report_problems(first["report"], created=self.runs, points=self.runs * METRICS * STEPS)
            self._report_problems(second["report"], created=0, points=0)
            writes = {
                k: c
                for k, c in second["requests"].items()
                if k.split(" ")[0] in ("PUT", "POST") and k.split(" ")[1] not in ("runs/search", "experiments/search")
            }
            if writes:
                self.problems.append(f"second push: it wrote to the server: {writes}")
            if first.get("mlflow_imported"):
                self.problems.append("push: mlflow was imported in the litexp worker")
        self.results["litexp"].append(out)
        return float(first["seconds"])

    def _report_problems(self, report: Dict[str, Any], created: int, points: int) -> None:
        which = "first push" if created else "second push"
        want = {
            "runs_seen": self.runs,
            "runs_created": created,
            "points": points,
            "params": self.runs * PARAMS if created else 0,
            "artifacts": self.runs if created else 0,
            "runs_unchanged": 0 if created else self.runs,
            "runs_updated": 0,
        }
        wrong = {k: report[k] for k, v in want.items() if report[k] != v}
        if wrong or report["failed"]:
            self.problems.append(
                f"{which}: report {wrong or ''} {len(report['failed'])} failed "
                f"{next(iter(report['failed'].values()), '')}".strip()
            )

    def floor(self, _: int) -> float:
        """One fresh server: the floor worker (checked); its seconds."""
        with self._server("push-floor") as server:
            self._warm(server)
            start = server.mark()
            result = self._run("push-floor", {"uri": server.uri, "runs": self.runs}, dict(WORKER_ENV))
            result["requests"] = dict(endpoint_counts(server, start, server.mark()))
            self._check("floor", server, result)
        self.results["floor"].append(result)
        return float(result["seconds"])

    def measure(self) -> None:
        bench, args, n = self.bench, self.bench.args, self.runs
        points = n * METRICS * STEPS
        floor = self.sample(self.floor, args.repeats, args.budget)
        lit = self.sample(self.litexp, args.repeats, args.budget)
        second = [float(r["second"]["seconds"]) for r in self.results["litexp"]]
        bench.raw["push"] = {
            "source": self.source,
            "written": self.written,
            "runs": n,
            "seconds": {"litexp": lit, "second": second, "floor": floor},
            "samples": self.results,
        }
        med = statistics.median(lit)
        extra = f"{n / med:,.0f} runs/s, {points / med:,.0f} points/s"
        if self.problems:
            extra = "FAILED: " + self.problems[0] + "; " + extra
        what = (
            f"{n:,}-run file store (each run: {PARAMS} params, {METRICS} metrics × {STEPS} steps = "
            f"{METRICS * STEPS} points, {TAGS} tags, one {ARTIFACT_BYTES // 1024} KB artifact)"
        )
        bench.add_row(
            measurement=f"8. push: `litexp.push()` of a {what} to a fresh local `mlflow server` (SQLite, "
            "--serve-artifacts, --workers 1); MLflow has no file store → server copy "
            "(`migrate-filestore` only writes a local SQLite file); floor = per run runs/create + "
            "one log-batch + one artifact PUT + runs/update on one keep-alive connection",
            litexp=lit,
            mlflow=[],
            floor=floor,
            unit="s",
            goals=[("per_runs", GOAL_SECONDS), ("floor", 1.5)],
            goal_runs=GOAL_RUNS,
            runs=n,
            litexp_extra=extra,
        )
        bench.add_row(
            measurement="8. same store pushed again to the same server (nothing to copy)",
            litexp=second,
            mlflow=[],
            floor=[],
            unit="s",
            goals=[],
            litexp_extra="FAILED" if self.problems else "",
        )
        self._notes()
        if self.problems:
            raise ServerFailure("; ".join(self.problems))

    def _notes(self) -> None:
        notes, lit, floor = self.bench.notes, self.results["litexp"], self.results["floor"]
        startups = ", ".join(f"{r['server_startup_seconds']:.1f}" for r in lit)
        notes.append(
            f"push: source store of {self.runs:,} runs written once in {self.written['seconds']:.1f} s "
            f"({self.source}); every sample on a fresh server (started in "
            f"{startups} s), warmed by one "
            "experiments/get; checked afterwards with paged runs/search, metrics/get-history for every "
            "run and key, and the artifacts folder"
            + ("" if self.problems else ": every sample held all runs, points and artifacts")
        )
        if lit:
            last = lit[-1]
            notes.append(
                f"push: requests of one first push: {_summary(collections.Counter(last['first']['requests']))}"
            )
            notes.append(
                f"push: requests of one second push: {_summary(collections.Counter(last['second']['requests']))}"
            )
            notes.append(
                "push: worker process wall time (start, import, push, exit): first "
                + ", ".join(f"{r['first']['process_seconds']:.1f}" for r in lit)
                + " s; second "
                + ", ".join(f"{r['second']['process_seconds']:.1f}" for r in lit)
                + " s"
            )
        if floor:
            notes.append(f"push floor: {_summary(collections.Counter(floor[-1]['requests']))}")
            by = floor[-1]["seconds_by_endpoint"]
            notes.append(
                "push floor: time per endpoint (client side, one sample): "
                + ", ".join(
                    f"{name} {total:.2f} s ({total / self.runs * 1000:.1f} ms each)"
                    for name, total in sorted(by.items(), key=lambda item: -item[1])
                )
            )


def measure(bench: _PushBench, sample: Sampler, timeout_error: Type[BaseException]) -> None:
    """Row 8: write (or reuse) the source store; sample the floor and the pushes, a fresh server each."""
    python = bench.sides.mlflow_python or getattr(bench.args, "mlflow_python", None)
    if not python:
        bench.notes.append(
            "8. push: skipped, it needs MLflow's Python for the server "
            "(run without --skip-mlflow, or give --mlflow-python)"
        )
        return
    PushRow(bench, python, sample, timeout_error).measure()
