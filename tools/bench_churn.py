"""Run creation of ``tools/bench.py``: what a run costs over the files it makes, and inside a git work tree.

K runs in one fresh process, each ``with R.start(experiment_name=...)``, 5
``R.log_params``, 5 ``R.log_metrics`` and the end (``worker_churn_runs``):

- (a) outside any git work tree, against the floor: a fresh process making the
  same folders and files with plain ``os`` calls (``os.mkdir``,
  ``os.open`` + ``os.write`` + ``os.close``, ``os.unlink``), for each run: the run
  folder and its ``metrics``, ``params``, ``artifacts`` and ``tags`` folders, the
  tag files (``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type``,
  ``mlflow.runName``), the param files (``cmd-sys.argv``, any ``_QLIB_*``
  variable, the 5 params), the heartbeat file and ``meta.yaml``, then the 5
  metric files, ``meta.yaml`` rewritten in place with the end status and the
  heartbeat file removed (``worker_churn_floor``). The row fails when the run
  folders of both sides do not hold the same names.
- (b) the same K runs with the working folder inside a git work tree made for
  the row (three committed files, one of them changed since), against the same
  runs outside. Every run there must record the commit tag and
  ``code_diff.txt``, ``code_status.txt`` and ``code_cached.txt``. The tree is left
  alone for a few seconds before the first sample: litexp reuses git's output only
  for a tree unchanged since a little before git ran (``litexp.runtime.git_capture.RACY_SECONDS``).

Samples are taken in rounds (outside, floor, inside git) so that drift hits all
three alike. ``python tools/bench_churn.py --quick`` runs the rows on their own
and prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Type

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT_PREFIX = "BENCH-RESULT "
EXPERIMENT = "churn"
PARAMS = 5
METRICS = 5
GIT_FILES = ("code_cached.txt", "code_diff.txt", "code_status.txt")
GIT_COMMIT_TAG = "mlflow.source.git.commit"
#: Seconds the fresh work tree is left unchanged before it is used (litexp's RACY_SECONDS is 3).
GIT_SETTLE_SECONDS = 3.5
QUICK_RUNS = 50
FULL_RUNS = 200


# --------------------------------------------------------------------------- workers


def _run_folder_names(run_dir: str) -> List[str]:
    """Every folder and file of a run folder, relative, sorted (folders end with ``/``)."""
    names = []
    for current, dirs, files in os.walk(run_dir):
        rel = os.path.relpath(current, run_dir)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        names += [prefix + d + "/" for d in dirs] + [prefix + f for f in files]
    return sorted(names)


def worker_churn_runs(p: Dict[str, Any]) -> Dict[str, Any]:
    """p["n"] x ``with R.start(...)``: 5 params, 5 metrics, end; working folder p["cwd"] when given."""
    if p.get("cwd"):
        os.chdir(p["cwd"])
    from litexp import R

    R.set_uri("file:" + p["store"])
    R.get_exp(experiment_name=EXPERIMENT)
    n = p["n"]
    started = time.perf_counter()
    last = None
    for i in range(n):
        with R.start(experiment_name=EXPERIMENT):
            R.log_params(**{f"p{k}": f"v{i}-{k}" for k in range(PARAMS)})
            R.log_metrics(**{f"m{k}": i + k / 10.0 for k in range(METRICS)})  # type: ignore[arg-type]
            if i == n - 1:
                last = R.get_recorder().id
    seconds = time.perf_counter() - started
    rec = R.get_recorder(recorder_id=last, experiment_name=EXPERIMENT)
    run_dir = rec.get_local_dir()
    return {
        "seconds": seconds,
        "names": _run_folder_names(run_dir),
        "commit": rec.list_tags().get(GIT_COMMIT_TAG),
        "runs": sum(
            1 for e in os.scandir(os.path.dirname(run_dir)) if os.path.isfile(os.path.join(e.path, "meta.yaml"))
        ),
    }


def _write(path: str, data: bytes, flags: int = os.O_WRONLY | os.O_CREAT | os.O_EXCL) -> None:
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def worker_churn_floor(p: Dict[str, Any]) -> Dict[str, Any]:
    """The folders and files of p["n"] runs with plain ``os`` calls (contents like litexp's, made before the clock)."""
    exp_dir = os.path.join(p["store"], "123456789012345678")
    os.makedirs(exp_dir)
    n = p["n"]
    argv = " ".join(sys.argv).encode()
    tags = {
        "mlflow.user": b"user",
        "mlflow.source.name": sys.argv[0].encode(),
        "mlflow.source.type": b"LOCAL",
        "mlflow.runName": b"mlflow_recorder",
    }
    params = {"cmd-sys.argv": argv}
    params.update({k: v.encode() for k, v in os.environ.items() if k.startswith("_QLIB_")})
    heartbeat = f"{socket.gethostname()} {os.getpid()} 123456 0123456789abcdef0123456789abcdef\n".encode()
    meta_text = (
        "artifact_uri: file://" + exp_dir + "/{run}/artifacts\nend_time: {end}\nentry_point_name: ''\n"
        "experiment_id: '123456789012345678'\nlifecycle_stage: active\nrun_id: {run}\n"
        "run_name: mlflow_recorder\nrun_uuid: {run}\nsource_name: ''\nsource_type: 4\n"
        "source_version: ''\nstart_time: 1700000000000\nstatus: {status}\ntags: []\nuser_id: user\n"
    )
    run_ids = [os.urandom(16).hex() for _ in range(n)]
    starts = [meta_text.format(run=r, end="null", status=1).encode() for r in run_ids]
    ends = [meta_text.format(run=r, end="1700000000001", status=3).encode() for r in run_ids]
    run_params = [{f"p{k}": f"v{i}-{k}".encode() for k in range(PARAMS)} for i in range(n)]
    lines = [{f"m{k}": f"1700000000000 {i + k / 10.0!r} 0\n".encode() for k in range(METRICS)} for i in range(n)]
    join = os.path.join
    started = time.perf_counter()
    for i, run_id in enumerate(run_ids):
        run_dir = join(exp_dir, run_id)
        os.mkdir(run_dir)
        for sub in ("metrics", "params", "artifacts", "tags"):
            os.mkdir(join(run_dir, sub))
        for key, value in tags.items():
            _write(join(run_dir, "tags", key), value)
        for key, value in params.items():
            _write(join(run_dir, "params", key), value)
        _write(join(run_dir, ".litexp-heartbeat"), heartbeat)
        _write(join(run_dir, "meta.yaml"), starts[i])
        for key, value in run_params[i].items():
            _write(join(run_dir, "params", key), value)
        for key, value in lines[i].items():
            _write(join(run_dir, "metrics", key), value)
        _write(join(run_dir, "meta.yaml"), ends[i], os.O_WRONLY | os.O_TRUNC)
        os.unlink(join(run_dir, ".litexp-heartbeat"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "names": _run_folder_names(join(exp_dir, run_ids[-1])), "runs": n}


WORKERS: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    "churn-runs": worker_churn_runs,
    "churn-floor": worker_churn_floor,
}


# --------------------------------------------------------------------------- driver


class _Sides(Protocol):
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
    notes: List[str]
    raw: Dict[str, Any]

    @property
    def sides(self) -> _Sides: ...

    def fresh_dir(self, label: str) -> str: ...

    def add_row(self, **row: Any) -> None: ...


Sampler = Callable[[Callable[[int], float], int, float], List[float]]


class ChurnFailure(RuntimeError):
    """A worker's runs are not what the row compares."""


def make_work_tree(folder: str) -> str:
    """A git work tree with three committed files and one of them changed since; its path."""
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_CONFIG_NOSYSTEM="1",
    )
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    repo = os.path.join(folder, "repo")
    os.makedirs(os.path.join(repo, "model"))
    files = {
        "train.py": "import model\n\nmodel.fit()\n",
        "model/__init__.py": "def fit():\n    return 1\n",
        "README.md": "# experiment\n",
    }
    for name, text in files.items():
        with open(os.path.join(repo, name), "w") as fh:
            fh.write(text)
    for cmd in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-q", "-m", "first"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(repo, "model", "__init__.py"), "a") as fh:
        fh.write("\n\ndef predict():\n    return 2\n")
    return repo


def measure(bench: _Bench, sample: Sampler, timeout_error: Type[BaseException]) -> None:
    """Rows (a) litexp outside git vs the floor and (b) inside vs outside a git work tree."""
    n = int(bench.sizes.get("churn_runs", FULL_RUNS))
    repo = make_work_tree(bench.fresh_dir("churn-git"))
    settle_until = time.monotonic() + GIT_SETTLE_SECONDS
    results: Dict[str, List[Dict[str, Any]]] = {"outside": [], "floor": [], "git": []}
    problems: List[str] = []

    def one(label: str, worker: str, cwd: Optional[str]) -> Dict[str, Any]:
        params: Dict[str, Any] = {"store": os.path.join(bench.fresh_dir(f"churn-{label}"), "mlruns"), "n": n}
        if cwd:
            params["cwd"] = cwd
        result = bench.sides.run("litexp", worker, params)
        results[label].append(result)
        if result["runs"] != n:
            problems.append(f"{label}: {result['runs']} runs instead of {n}")
        return result

    def round_(_: int) -> float:
        started = time.perf_counter()
        outside = one("outside", "churn-runs", None)
        floor = one("floor", "churn-floor", None)
        time.sleep(max(0.0, settle_until - time.monotonic()))
        inside = one("git", "churn-runs", repo)
        if outside["commit"] is not None:
            problems.append("the runs outside git recorded a commit: their working folder is inside a work tree")
        if outside["names"] != floor["names"]:
            problems.append(f"a litexp run folder holds {outside['names']}, the floor's {floor['names']}")
        missing = [name for name in GIT_FILES if "artifacts/" + name not in inside["names"]]
        if inside["commit"] is None or missing:
            problems.append(
                f"a run inside git lacks {', '.join(missing + ([GIT_COMMIT_TAG] if inside['commit'] is None else []))}"
            )
        return time.perf_counter() - started

    sample(round_, bench.args.repeats, bench.args.budget)
    outside = [float(r["seconds"]) for r in results["outside"]]
    floor = [float(r["seconds"]) for r in results["floor"]]
    inside = [float(r["seconds"]) for r in results["git"]]
    bench.raw["run_creation"] = {
        "runs": n,
        "outside": outside,
        "floor": floor,
        "git": inside,
        "names": results["outside"][0]["names"] if results["outside"] else [],
    }
    failed = f"FAILED: {problems[0]}" if problems else ""
    files = len(results["floor"][0]["names"]) if results["floor"] else 0
    bench.add_row(
        measurement=f"2. run creation: {n} x (`with R.start(...)`, 5 params, 5 metrics, end) outside any git work tree; "
        f"floor = the same run folder and its {files} folders and files, and the heartbeat file made "
        "and removed, with plain `os` calls",
        litexp=outside,
        mlflow=[],
        floor=floor,
        unit="s",
        goals=[("floor", 2.0)],
        litexp_extra=failed,
    )
    bench.add_row(
        measurement=f"2. run creation inside a git work tree: the same {n} runs (commit tag, code_diff.txt, "
        "code_status.txt, code_cached.txt) vs outside (the goal's base)",
        litexp=inside,
        mlflow=[],
        floor=[],
        unit="s",
        goals=[("base", 1.5)],
        base=outside,
        base_name="outside git",
        litexp_extra=failed,
    )
    if problems:
        raise ChurnFailure("; ".join(dict.fromkeys(problems)))


# --------------------------------------------------------------------------- standalone


class _OwnSides:
    """Runs this module's workers in fresh processes (what ``bench.py``'s ``Sides`` does for its own)."""

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self.env = dict(os.environ)
        path = self.env.get("PYTHONPATH")
        self.env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")

    def run(
        self,
        side: str,
        worker: str,
        params: Dict[str, Any],
        timeout: Optional[float] = None,
        extra_env: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        env = dict(self.env, **(extra_env or {}))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", worker, json.dumps(params)]
        proc = subprocess.run(cmd, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=timeout)
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX) :])
        tail = "\n".join(proc.stderr.splitlines()[-25:])
        raise ChurnFailure(f"worker {worker} failed with exit code {proc.returncode}:\n{tail}")


class _OwnBench:
    def __init__(self, args: argparse.Namespace, workdir: str, runs: int) -> None:
        self.args = args
        self.workdir = workdir
        self.sizes = {"churn_runs": runs}
        self.notes: List[str] = []
        self.raw: Dict[str, Any] = {}
        self.rows: List[Dict[str, Any]] = []
        cwd = os.path.join(workdir, "cwd")
        os.makedirs(cwd)
        self.sides = _OwnSides(cwd)
        self._counter = 0

    def fresh_dir(self, label: str) -> str:
        self._counter += 1
        path = os.path.join(self.workdir, "scratch", f"{self._counter:04d}-{label}")
        os.makedirs(path)
        return path

    def add_row(self, **row: Any) -> None:
        self.rows.append(row)


def _sample(fn: Callable[[int], float], repeats: int, budget: float) -> List[float]:
    values: List[float] = []
    spent = 0.0
    while len(values) < max(1, repeats) and (not values or spent < budget):
        values.append(fn(len(values)))
        spent += values[-1]
    return values


def _median(values: Sequence[float]) -> Optional[float]:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if raw_argv[:1] == ["--worker"]:
        result = WORKERS[raw_argv[1]](json.loads(raw_argv[2]))
        sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs per process instead of {FULL_RUNS}")
    parser.add_argument("--runs", type=int, help="runs per process")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of samples (default %(default)s)")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds after which no new round starts")
    parser.add_argument("--workdir", help="scratch folder (default: a new temporary folder, removed at the end)")
    args = parser.parse_args(raw_argv)
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="litexp-bench-churn-"))
    os.makedirs(workdir, exist_ok=True)
    bench = _OwnBench(args, workdir, runs)
    try:
        try:
            measure(bench, _sample, subprocess.TimeoutExpired)
        except ChurnFailure as exc:
            bench.notes.append(f"FAILED: {exc}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for row in bench.rows:  # tools/bench.py renders these rows as its table
        print(f"- {row['measurement']}")
    raw = bench.raw.get("run_creation", {})
    outside, floor, inside = (_median(raw.get(k, [])) for k in ("outside", "floor", "git"))
    print()
    for label, value in (("outside git", outside), ("floor", floor), ("inside git", inside)):
        if value is not None:
            print(f"- {label}: {value * 1000:,.1f} ms for {runs} runs ({value / runs * 1e6:,.0f} µs per run)")
    if outside and floor:
        print(f"- outside git / floor: {outside / floor:.2f}× (goal ≤ 2×)")
    if outside and inside:
        print(f"- inside git / outside: {inside / outside:.2f}× (goal ≤ 1.5×)")
    for note in bench.notes:
        print(f"- {note}")
    return 1 if any(note.startswith("FAILED") for note in bench.notes) else 0


if __name__ == "__main__":
    sys.exit(main())
