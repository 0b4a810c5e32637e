"""Reliability figures: concurrent logging, kill -9 at random moments, signals.

    python tools/stress.py                      # 16 processes x 50 runs x 200 points, 50 kills
    python tools/stress.py --procs 4 --runs 5 --points 50 --kills 10 --json out.json

Prints a markdown table (the README's Reliability section) and exits non-zero
when any check fails. When ``mlflow`` is importable, MLflow's own reader must
open the whole store after the stress run and after every kill.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

HERE = os.path.dirname(os.path.abspath(__file__))

STRESS_WORKER = """
import sys, time
store, start_at, runs, points, worker = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
from litexp import R
while time.time() < start_at:
    time.sleep(0.001)
for r in range(runs):
    with R.start(experiment_name="stress", uri=store):
        R.log_params(worker=worker, run=r)
        for i in range(points):
            R.log_metrics(step=i, loss=1.0 / (i + 1), ic=0.001 * i)
        R.save_objects(**{"result.pkl": {"worker": worker, "run": r}})
print("ok")
"""

KILL_WORKER = """
import sys, time
from litexp import R
n = 0
while True:
    with R.start(experiment_name="kill", uri=sys.argv[1]):
        R.log_params(n=n)
        for i in range(40):
            R.log_metrics(step=i, x=float(i))
            if i % 10 == 0:
                R.set_tags(progress=str(i))
            time.sleep(0.002)
        R.save_objects(obj=[n])
    n += 1
"""

SIGNAL_WORKER = """
import sys, time
from litexp import R
with R.start(experiment_name="signal", uri=sys.argv[1]):
    for i in range(100):
        R.log_metrics(step=i, x=float(i))
    print(R.get_recorder().id, flush=True)
    while True:
        time.sleep(0.05)
"""


def mlflow_check(store: str) -> Optional[str]:
    """None when MLflow's reader opens every run of the store; an error text otherwise.

    Returns "not installed" when mlflow is missing.
    """
    try:
        from mlflow.entities import ViewType
        from mlflow.tracking import MlflowClient
    except ImportError:
        return "not installed"
    try:
        client = MlflowClient(tracking_uri="file:" + store)
        exps = client.search_experiments(view_type=ViewType.ALL)
        for exp in exps:
            for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=50000):
                client.get_run(run.info.run_id)
                for key in run.data.metrics:
                    client.get_metric_history(run.info.run_id, key)
                client.list_artifacts(run.info.run_id)
    except Exception as exc:  # report, don't crash the tool
        return f"{type(exc).__name__}: {exc}"
    return None


def stress(store: str, procs: int, runs: int, points: int) -> Dict[str, Any]:
    from litexp.store import FileStore

    started = time.time()
    start_at = time.time() + 2.0
    workers = []
    for w in range(procs):
        cwd = tempfile.mkdtemp(prefix=f"litexp-stress-w{w}-")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", STRESS_WORKER, store, str(start_at), str(runs), str(points), str(w)],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    failures: List[str] = []
    for p in workers:
        out, err = p.communicate(timeout=1800)
        if p.returncode != 0 or out.strip() != "ok":
            failures.append(err.strip().splitlines()[-1] if err.strip() else f"exit {p.returncode}")
    elapsed = time.time() - started
    fs = FileStore(store)
    exps = [e for e in fs.list_experiments() if e.name == "stress"]
    found = fs.load_runs([e.experiment_id for e in exps])
    finished = sum(r.status == "FINISHED" for r in found)
    point_count = 0
    for run in found:
        for key in ("loss", "ic"):
            try:
                point_count += len(fs.get_metric_history(run.run_id, key))
            except Exception as exc:
                failures.append(f"run {run.run_id}: {exc}")
        if fs.list_artifacts(run.run_id) == []:
            failures.append(f"run {run.run_id}: artifact missing")
    expected_points = procs * runs * points * 2
    if len(exps) != 1:
        failures.append(f"{len(exps)} experiments named 'stress'")
    if finished != procs * runs:
        failures.append(f"{finished} FINISHED runs, expected {procs * runs}")
    if point_count != expected_points:
        failures.append(f"{point_count} metric points, expected {expected_points}")
    mlflow = mlflow_check(store)
    if mlflow not in (None, "not installed"):
        failures.append("MLflow reader: " + mlflow)
    return {
        "processes": procs,
        "runs": len(found),
        "finished": finished,
        "experiments": len(exps),
        "points": point_count,
        "expected_points": expected_points,
        "seconds": round(elapsed, 1),
        "mlflow_reader": "ok" if mlflow is None else mlflow,
        "failures": failures,
    }


def kills(store: str, count: int, seed: int) -> Dict[str, Any]:
    from litexp import FileExpManager
    from litexp.store import FileStore

    rng = random.Random(seed)
    failures: List[str] = []
    mlflow_checked = 0
    for k in range(count):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_WORKER, store], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0.15, 0.9))
        proc.kill()
        proc.wait()
        try:
            fs = FileStore(store)
            for exp in fs.list_experiments(3):
                for run in fs.load_runs([exp.experiment_id], 3):
                    fs.get_run(run.run_id)
        except Exception as exc:
            failures.append(f"kill {k}: litexp: {type(exc).__name__}: {exc}")
        result = mlflow_check(store)
        if result == "not installed":
            continue
        mlflow_checked += 1
        if result is not None:
            failures.append(f"kill {k}: MLflow reader: {result}")
    manager = FileExpManager("file:" + store, "Experiment")
    fs = FileStore(store)
    exp = fs.find_experiment("kill")
    all_runs = fs.load_runs([exp.experiment_id]) if exp else []
    running = [r.run_id for r in all_runs if r.status == "RUNNING"]
    ended = manager.end_stale_recorders(max_age=3600) if exp else {}
    if sorted(ended) != sorted(running):
        failures.append(f"{len(running)} runs left RUNNING but {len(ended)} found stale")
    after = fs.load_runs([exp.experiment_id]) if exp else []
    still_running = [r.run_id for r in after if r.status == "RUNNING"]
    no_end = [r.run_id for r in after if r.run_id in ended and (r.status != "KILLED" or r.end_time is None)]
    if still_running or no_end:
        failures.append(f"after marking: {len(still_running)} still RUNNING, {len(no_end)} without KILLED/end time")
    return {
        "kills": count,
        "runs": len(all_runs),
        "killed_mid_run": len(running),
        "marked_killed": len(ended),
        "mlflow_checks": mlflow_checked,
        "failures": failures,
    }


def signals(store: str) -> Dict[str, Any]:
    from litexp.store import FileStore

    failures: List[str] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen(
            [sys.executable, "-c", SIGNAL_WORKER, store], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        rid = proc.stdout.readline().strip()  # type: ignore[union-attr]
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        run = FileStore(store).get_run(rid)
        points = len(FileStore(store).get_metric_history(rid, "x"))
        if run.status != "KILLED" or run.end_time is None or points != 100:
            failures.append(f"{signal.Signals(sig).name}: status {run.status}, end {run.end_time}, {points}/100 points")
    return {"signals": "SIGTERM, SIGINT", "failures": failures}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", default=None, help="folder for the stores (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    base = os.path.abspath(args.store or tempfile.mkdtemp(prefix="litexp-stress-"))
    os.makedirs(base, exist_ok=True)

    results = {
        "stress": stress(os.path.join(base, "stress"), args.procs, args.runs, args.points),
        "kill": kills(os.path.join(base, "kill"), args.kills, args.seed),
        "signal": signals(os.path.join(base, "signal")),
    }
    s, k, g = results["stress"], results["kill"], results["signal"]
    print("| test | figures | failures |")
    print("|---|---|---|")
    print(
        f"| concurrent logging | {s['processes']} processes, {s['runs']} runs ({s['finished']} FINISHED) in "
        f"{s['experiments']} experiment, {s['points']}/{s['expected_points']} metric points, {s['seconds']} s; "
        f"MLflow reader: {s['mlflow_reader']} | {len(s['failures'])} |"
    )
    print(
        f"| kill -9 at random moments | {k['kills']} kills, {k['runs']} runs, {k['killed_mid_run']} left RUNNING, "
        f"{k['marked_killed']} found stale and marked KILLED; MLflow reader opened the store after "
        f"{k['mlflow_checks']} kills | {len(k['failures'])} |"
    )
    print(f"| signals | {g['signals']} → KILLED with end time, 100/100 points flushed | {len(g['failures'])} |")
    failures = s["failures"] + k["failures"] + g["failures"]
    for f in failures[:20]:
        print("failure:", f)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
