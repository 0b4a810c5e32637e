"""Many processes on one store: race-free get-or-create, concurrent logging."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from litexp.store import FileStore

WORKER = textwrap.dedent(
    """
    import sys, time
    store_path, start_at, n_runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    from litexp import R
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(n_runs):
        with R.start(experiment_name="shared", uri=store_path):
            R.log_params(worker=sys.argv[4], i=i)
            for step in range(20):
                R.log_metrics(step=step, loss=1.0 / (step + 1))
    print("ok")
    """
)


def run_workers(tmp_path, n_procs, n_runs, uri_of):
    start_at = time.time() + 3.0
    procs = []
    for w in range(n_procs):
        cwd = tmp_path / f"w{w}"
        cwd.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, uri_of(w), str(start_at), str(n_runs), str(w)],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0 and out.strip() == "ok", err


def test_16_processes_get_or_create_same_experiment(tmp_path):
    store_path = tmp_path / "store" / "mlruns"
    # every worker names the store differently: absolute file URI, relative path, plain path
    forms = [
        lambda w: "file:" + str(store_path),
        lambda w: "file://" + str(store_path),
        lambda w: os.path.relpath(store_path, tmp_path / f"w{w}"),
        lambda w: str(store_path),
    ]
    run_workers(tmp_path, 16, 1, lambda w: forms[w % len(forms)](w))
    store = FileStore(str(store_path))
    shared = [e for e in store.list_experiments() if e.name == "shared"]
    assert len(shared) == 1
    runs = store.load_runs([shared[0].experiment_id])
    assert len(runs) == 16
    assert all(r.status == "FINISHED" and len(r.params) >= 2 and r.metrics["loss"] == 1.0 / 20 for r in runs)
    assert sorted(r.params["worker"] for r in runs) == sorted(str(w) for w in range(16))
    for r in runs:
        assert len(store.get_metric_history(r.run_id, "loss")) == 20


def test_concurrent_appends_to_one_run_never_interleave(tmp_path):
    store = FileStore(str(tmp_path / "mlruns"))
    exp, _ = store.get_or_create_experiment("e")
    run = store.create_run(exp.experiment_id, "r", "u", 0)
    script = textwrap.dedent(
        """
        import sys
        from litexp.store import FileStore
        s = FileStore(sys.argv[1])
        w = int(sys.argv[3])
        for i in range(300):
            s.log_batch(sys.argv[2], [("m", float(w * 1000 + i), i, w * 10 + k) for k in range(3)])
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "mlruns"), run.run_id, str(w)]) for w in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    hist = store.get_metric_history(run.run_id, "m")
    assert len(hist) == 4 * 300 * 3
    with open(os.path.join(store.run_folder(run.run_id), "metrics", "m")) as fh:
        lines = fh.read().split("\n")
    assert lines[-1] == "" and all(len(line.split(" ")) == 3 for line in lines[:-1])
