"""litexp on a real network file system: two sshfs mounts of one folder act as two hosts.

Every test writes through mount A and mount B at once (worker processes, each with its
own litexp state) and checks the result by reading the exported folder directly, the
"server's" truth, which no client cache can colour. See tests/netfs_support.py for the
mounts and their caching (like two NFS clients: attributes, names and listings cached
up to 20 s, close-to-open consistent file contents).

Needs the Debian packages sshfs and openssh-server; skipped without them, failed under CI.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any, Dict, List, Optional

import pytest
import yaml
from netfs_support import CACHE_TIMEOUT, mounted, require_prerequisites, sshfs_mounts

PROCESS_TIMEOUT = 240.0  # seconds for one group of worker processes, start to end
BARRIER_TIMEOUT = 90.0  # seconds the workers may take to get ready

WORKER = textwrap.dedent(
    r'''
    """A litexp worker for test_network_fs: one JSON argument, one JSON line out.

    Exit 0: done; 3: a litexp error (LitexpError) stopped it; 4: the start barrier timed
    out or the test process died; 5: the mount is gone; anything else (1: a raw traceback
    on stderr) is a bug.
    """
    import json, os, random, sys, time

    job = json.loads(sys.argv[1])
    result = {"worker": job["worker"], "mount": job.get("mount"), "done": []}


    def emit(code):
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        sys.exit(code)


    def barrier():
        """Tell the parent we are ready, then wait until every worker is."""
        with open(job["ready"], "w") as fh:
            fh.write(str(os.getpid()))
        deadline = time.monotonic() + job["barrier_timeout"]
        while not os.path.exists(job["go"]):
            if time.monotonic() > deadline or os.getppid() != job["parent"]:
                result["error"] = "start barrier timed out (or the test process died)"
                emit(4)
            time.sleep(0.002)


    from litexp import FileExpManager, QlibRecorder
    from litexp.errors import LitexpError


    def make_r():
        if job.get("mountpoint") and not os.path.ismount(job["mountpoint"]):
            result["error"] = "the mount is gone"  # the test was killed: never write to the bare folder
            emit(5)
        return QlibRecorder(FileExpManager("file:" + job["root"], "Experiment"))


    def log_run():
        """One run of `points` points in experiment `experiment` (created if missing)."""
        barrier()
        R = make_r()
        with R.start(experiment_name=job["experiment"]):
            R.log_params(worker=job["worker"], mount=job["mount"])
            for i in range(job["points"]):
                R.log_metrics(step=i, loss=1.0 / (i + 1))
            result["run_id"] = R.get_recorder().id
        result["done"].append("end")


    def lookup():
        """Find a run by id, both ways (R.get_recorder, Experiment.get_recorder)."""
        R = make_r()
        rid, name, eid = job["run_id"], job["experiment"], job["experiment_id"]
        found = []
        ways = ["R.get_recorder(experiment_id)", "Experiment(id).get_recorder"]
        if job["known"]:
            ways += ["R.get_recorder(experiment_name)", "Experiment(name).get_recorder"]
        for how in ways:
            try:
                if how == "R.get_recorder(experiment_name)":
                    rec = R.get_recorder(recorder_id=rid, experiment_name=name)
                elif how == "Experiment(name).get_recorder":
                    rec = R.get_exp(experiment_name=name, create=False).get_recorder(recorder_id=rid, create=False)
                elif how == "Experiment(id).get_recorder":
                    rec = R.get_exp(experiment_id=eid, create=False).get_recorder(recorder_id=rid, create=False)
                else:
                    rec = R.get_recorder(recorder_id=rid, experiment_id=eid)
                found.append([how, rec.id == rid, None])
            except LitexpError as exc:
                found.append([how, False, f"{type(exc).__name__}: {exc}"])
        result["found"] = found


    def meta_worker():
        """Start a run, then (at the barrier) rename it a few times and end it."""
        R = make_r()
        R.start_exp(experiment_id=job["experiment_id"])
        rec = R.get_recorder()
        R.log_metrics(step=0, x=1.0)
        rec.flush()
        result["run_id"] = rec.id
        barrier()
        rnd = random.Random(job["seed"])
        for k in range(job["renames"]):
            name = "w%s-n%d" % (job["worker"], k)
            result["attempted_name"] = name
            rec.set_tags(**{"mlflow.runName": name})
            rec.flush()
            result["done"].append(["rename", name])
            time.sleep(rnd.uniform(0.0, 0.02))
        R.end_exp("FINISHED")
        result["done"].append(["end", "FINISHED"])


    def deleter():
        """At the barrier (plus a little jitter), delete the experiment."""
        R = make_r()
        R.get_exp(experiment_id=job["experiment_id"], create=False)  # a host that knows the experiment
        barrier()
        time.sleep(job["delay"])
        R.delete_exp(experiment_id=job["experiment_id"])
        result["done"].append("delete")


    try:
        {"log_run": log_run, "lookup": lookup, "meta": meta_worker, "delete": deleter}[job["mode"]]()
    except LitexpError as exc:
        result["litexp_error"] = "%s: %s" % (type(exc).__name__, exc)
        emit(3)
    except BaseException as exc:
        result["raw_error"] = "%s: %s" % (type(exc).__name__, exc)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
        raise
    emit(0)
    '''
)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def netfs():
    """(export, mount_a, mount_b) for the whole module; always unmounted afterwards."""
    require_prerequisites()
    with sshfs_mounts() as mounts:
        yield mounts


@pytest.fixture(scope="module")
def worker_dir(tmp_path_factory):
    """Local (not network) folder: the worker script, barrier files, logs, worker cwds."""
    folder = tmp_path_factory.mktemp("netfs_workers")
    (folder / "worker.py").write_text(WORKER)
    return folder


class Store:
    """One store of one test: the same ``<sub>/mlruns`` seen from the server, A and B."""

    def __init__(self, netfs, name: str, make_parent: bool = True) -> None:
        sub = f"{name}-{uuid.uuid4().hex[:8]}"
        if make_parent:
            os.makedirs(os.path.join(netfs.export, sub))
        self.export = os.path.join(netfs.export, sub, "mlruns")
        self.a = os.path.join(netfs.a, sub, "mlruns")
        self.b = os.path.join(netfs.b, sub, "mlruns")

    def via(self, mount: str) -> str:
        return {"a": self.a, "b": self.b, "export": self.export}[mount]


def make_r(root: str):
    from litexp import FileExpManager, QlibRecorder

    return QlibRecorder(FileExpManager("file:" + root, "Experiment"))


class Outcome:
    def __init__(self, job: Dict[str, Any], code: Optional[int], out: str, err: str) -> None:
        self.job, self.code, self.out, self.err = job, code, out, err
        self.result: Dict[str, Any] = {}
        for line in reversed(out.splitlines()):
            try:
                self.result = json.loads(line)
                break
            except ValueError:
                continue

    @property
    def raw_traceback(self) -> bool:
        return self.code not in (0, 3, 4) or "Traceback (most recent call last)" in self.err

    def describe(self) -> str:
        tail = self.err.strip().splitlines()[-12:]
        return (
            f"worker {self.job['worker']} via mount {self.job.get('mount')} ({self.job['mode']}): exit {self.code}, "
            f"result {self.result}" + ("\n      " + "\n      ".join(tail) if tail else "")
        )


def mountpoint_of(path: str) -> Optional[str]:
    """The mount point above ``path`` (None when it is on no separate mount)."""
    path = os.path.abspath(path)
    while path != os.path.dirname(path):
        if os.path.ismount(path):
            return path
        path = os.path.dirname(path)
    return None


def run_workers(worker_dir, jobs: List[Dict[str, Any]], barrier: bool = True) -> List[Outcome]:
    """Start one process per job, release them together, wait for all (bounded)."""
    tag = uuid.uuid4().hex[:8]
    go = worker_dir / f"go-{tag}"
    started = []
    for i, job in enumerate(jobs):
        job = dict(
            job,
            mountpoint=mountpoint_of(job["root"]),
            ready=str(worker_dir / f"ready-{tag}-{i}"),
            go=str(go),
            barrier_timeout=BARRIER_TIMEOUT,
            parent=os.getpid(),
        )
        cwd = worker_dir / f"cwd-{tag}-{i}"
        cwd.mkdir()
        out, err = open(cwd / "stdout", "w+"), open(cwd / "stderr", "w+")
        proc = subprocess.Popen(
            [sys.executable, str(worker_dir / "worker.py"), json.dumps(job)],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        started.append((job, proc, out, err))
    deadline = time.monotonic() + PROCESS_TIMEOUT
    try:
        if barrier:
            ready_by = time.monotonic() + BARRIER_TIMEOUT
            while time.monotonic() < ready_by and not all(
                os.path.exists(job["ready"]) or proc.poll() is not None for job, proc, _, _ in started
            ):
                time.sleep(0.01)
            go.touch()
        outcomes = []
        for job, proc, out, err in started:
            try:
                code: Optional[int] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
                code = None
            out.seek(0)
            err.seek(0)
            text_err = err.read() + ("" if code is not None else f"\n(killed after {PROCESS_TIMEOUT:g} s)")
            outcomes.append(Outcome(job, code, out.read(), text_err))
        return outcomes
    finally:
        for _, proc, out, err in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            out.close()
            err.close()


def file_store(root: str):
    from litexp.store import FileStore

    return FileStore(root)


def experiments_named(root: str, name: str) -> list:
    return [e for e in file_store(root).list_experiments() if e.name == name]


# ---------------------------------------------------------------------- tests
def test_mounts_are_two_sshfs_clients_of_one_folder(netfs):
    assert mounted(netfs.a) == "fuse.sshfs" and mounted(netfs.b) == "fuse.sshfs"
    lock_mode = None
    for module in ("litexp.store.file.locks", "litexp.store.locks"):
        try:
            lock_mode = importlib.import_module(module).lock_mode
            break
        except (ImportError, AttributeError):
            continue
    if lock_mode is not None:  # else the lock module moved again: the mount type is what litexp reads
        assert lock_mode(netfs.a) == "soft" and lock_mode(netfs.b) == "soft"
    name = f"probe-{uuid.uuid4().hex[:8]}"
    with open(os.path.join(netfs.a, name), "w") as fh:
        fh.write("from A")
    with open(os.path.join(netfs.export, name)) as fh:
        assert fh.read() == "from A"
    with open(os.path.join(netfs.b, name)) as fh:
        assert fh.read() == "from A"


def test_existing_store_16_processes_through_both_mounts(netfs, worker_dir):
    """8 processes per mount log one 200-point run each into one experiment of an existing store."""
    store = Store(netfs, "existing")
    R = make_r(store.a)
    with R.start(experiment_name="setup"):
        R.log_metrics(step=0, loss=0.0)
    jobs = [
        {
            "mode": "log_run",
            "worker": f"{m}{i}",
            "mount": m,
            "root": store.via(m),
            "experiment": "shared",
            "points": 200,
        }
        for m in ("a", "b")
        for i in range(8)
    ]
    outcomes = run_workers(worker_dir, jobs)
    bad = [o for o in outcomes if o.code != 0 or o.raw_traceback]
    assert not bad, "workers failed:\n  " + "\n  ".join(o.describe() for o in bad)

    # the server's truth
    shared = experiments_named(store.export, "shared")
    assert len(shared) == 1, f"experiments named 'shared': {[e.experiment_id for e in shared]}"
    fs = file_store(store.export)
    runs = fs.load_runs([shared[0].experiment_id])
    assert len(runs) == 16
    assert all(r.status == "FINISHED" for r in runs), [r.status for r in runs]
    assert sorted(r.params["worker"] for r in runs) == sorted(j["worker"] for j in jobs)
    histories = {r.run_id: fs.get_metric_history(r.run_id, "loss") for r in runs}
    assert sum(len(h) for h in histories.values()) == 3200
    assert all(sorted(p.step for p in h) == list(range(200)) for h in histories.values())

    # each client's view, through litexp's public API: allowed to lag by the cache timeout
    def view(root: str):
        exp = make_r(root).get_exp(experiment_name="shared", create=False)
        recs = exp.list_recorders()
        return (
            len(recs),
            sorted(r.status for r in recs.values()),
            sum(len(r.get_metric_history("loss")) for r in recs.values()),
        )

    want = (16, ["FINISHED"] * 16, 3200)
    for mount in ("a", "b"):
        deadline = time.monotonic() + CACHE_TIMEOUT + 15
        first = seen = view(store.via(mount))
        while seen != want and time.monotonic() < deadline:
            time.sleep(1)
            seen = view(store.via(mount))
        assert seen == want, f"through mount {mount}: first saw {first[::2]}, then {seen[::2]}"


def test_fresh_store_race_through_both_mounts(netfs, worker_dir):
    """3 + 3 processes race to create a store that does not exist yet, through both mounts.

    12 rounds (the race is lost by a few workers in a hundred): in even rounds the
    store's parent folder exists, in odd ones the workers create it too.
    """
    failures = []
    for round_no in range(12):
        store = Store(netfs, f"fresh{round_no}", make_parent=round_no % 2 == 0)
        assert not os.path.exists(store.export)
        jobs = [
            {
                "mode": "log_run",
                "worker": f"{m}{i}",
                "mount": m,
                "root": store.via(m),
                "experiment": "fresh",
                "points": 5,
            }
            for m in ("a", "b")
            for i in range(3)
        ]
        outcomes = run_workers(worker_dir, jobs)
        bad = [o for o in outcomes if o.code != 0 or o.raw_traceback]
        if bad:
            failures.append(
                f"round {round_no}: {len(bad)} of 6 workers failed:\n  " + "\n  ".join(o.describe() for o in bad)
            )
            continue
        fresh = experiments_named(store.export, "fresh")
        if len(fresh) != 1:
            failures.append(f"round {round_no}: {len(fresh)} experiments named 'fresh'")
            continue
        runs = file_store(store.export).load_runs([fresh[0].experiment_id])
        if len(runs) != 6:
            failures.append(f"round {round_no}: {len(runs)} runs, not 6")
    assert not failures, f"{len(failures)} of 12 rounds failed:\n" + "\n".join(failures)


def test_run_created_through_a_is_found_by_id_through_b(netfs, worker_dir):
    """A run made through mount A is at once found by id through mount B (10 rounds).

    Host B keeps looking at the store (lists experiments and the recorders of one) as a
    dashboard would, so its mount holds listings from before each new run. Even rounds
    add a run to an experiment B knows (found by experiment name or id); odd rounds make a
    new experiment and its run (found by experiment id: a *name* needs a listing, and a new
    experiment's folder shows in host B's listings only once its cache expires — README).
    """
    store = Store(netfs, "lookup")
    R_a, R_b = make_r(store.a), make_r(store.b)
    with R_a.start(experiment_name="lookup"):
        R_a.log_metrics(step=0, loss=0.0)
    failures = []
    for round_no in range(10):
        name = "lookup" if round_no % 2 == 0 else f"lookup-new-{round_no}"
        R_b.list_experiments()
        R_b.list_recorders(experiment_name="lookup")
        with R_a.start(experiment_name=name) as exp:
            R_a.log_metrics(step=0, loss=float(round_no))
            rid, eid = R_a.get_recorder().id, exp.id
        here = f"round {round_no} ({'existing' if name == 'lookup' else 'new'} experiment {name!r} = {eid}, run {rid})"
        known = name == "lookup"
        ways = [
            (
                "R.get_recorder(experiment_id)",
                lambda rid=rid, eid=eid: R_b.get_recorder(recorder_id=rid, experiment_id=eid),
            ),
            (
                "Experiment(id).get_recorder",
                lambda rid=rid, eid=eid: R_b.get_exp(experiment_id=eid, create=False).get_recorder(
                    recorder_id=rid, create=False
                ),
            ),
        ]
        if known:
            ways += [
                (
                    "R.get_recorder(experiment_name)",
                    lambda rid=rid, name=name: R_b.get_recorder(recorder_id=rid, experiment_name=name),
                ),
                (
                    "Experiment(name).get_recorder",
                    lambda rid=rid, name=name: R_b.get_exp(experiment_name=name, create=False).get_recorder(
                        recorder_id=rid, create=False
                    ),
                ),
            ]
        # in this process (a long-lived host-B process)
        for how, find in ways:
            try:
                assert find().id == rid
            except Exception as exc:  # noqa: BLE001 - collected, asserted below
                failures.append(f"{here}, in-process {how}: {type(exc).__name__}: {exc}")
        # in a fresh process on host B
        (outcome,) = run_workers(
            worker_dir,
            [
                {
                    "mode": "lookup",
                    "worker": f"b{round_no}",
                    "mount": "b",
                    "root": store.b,
                    "experiment": name,
                    "experiment_id": eid,
                    "run_id": rid,
                    "known": known,
                }
            ],
            barrier=False,
        )
        if outcome.code != 0 or outcome.raw_traceback:
            failures.append(f"{here}, fresh process: {outcome.describe()}")
        else:
            for how, ok, error in outcome.result["found"]:
                if not ok:
                    failures.append(f"{here}, fresh process {how}: {error}")
    assert not failures, f"{len(failures)} lookups failed:\n" + "\n".join(failures)


def test_meta_race_delete_experiment_while_runs_end_and_rename(netfs, worker_dir):
    """Runs end / rename through A and B while another process deletes their experiment (6 rounds).

    Each round: 3 processes per mount start a run, then (released together) rename it 4
    times and end it, while a 7th process, through A or B in turn, deletes the experiment.
    Workers address the experiment by id so that the race is about meta.yaml alone.
    """
    store = Store(netfs, "meta")
    R_a = make_r(store.a)
    with R_a.start(experiment_name="setup"):
        pass
    problems = []
    rnd = random.Random(20240611)
    for round_no in range(6):
        exp_id = R_a.get_exp(experiment_name=f"meta-{round_no}").id  # made through A, found by id
        deleter_mount = "ab"[round_no % 2]
        jobs = [
            {
                "mode": "meta",
                "worker": f"{m}{i}",
                "mount": m,
                "root": store.via(m),
                "experiment_id": exp_id,
                "renames": 4,
                "seed": rnd.randrange(1 << 30),
            }
            for m in ("a", "b")
            for i in range(3)
        ]
        jobs.append(
            {
                "mode": "delete",
                "worker": "deleter",
                "mount": deleter_mount,
                "root": store.via(deleter_mount),
                "experiment_id": exp_id,
                "delay": rnd.uniform(0.0, 0.15),
            }
        )
        outcomes = run_workers(worker_dir, jobs)
        here = f"round {round_no} (experiment {exp_id}, deleter via {deleter_mount})"
        deleter = outcomes[-1]
        if deleter.code != 0 or deleter.raw_traceback:
            problems.append(f"{here}: the delete failed: {deleter.describe()}")
        for o in outcomes[:-1]:
            if o.raw_traceback or o.code not in (0, 3):
                problems.append(f"{here}: a worker died without a litexp error: {o.describe()}")

        # the server's truth
        active_dir = os.path.join(store.export, exp_id)
        trash_dir = os.path.join(store.export, ".trash", exp_id)
        if os.path.exists(active_dir):
            problems.append(
                f"{here}: the deleted experiment's folder is back at the store root: {sorted(os.listdir(active_dir))}"
            )
        records = {r.run_id: r for r in file_store(store.export).load_runs([exp_id], 3)}  # ViewType.ALL
        for o in outcomes[:-1]:
            rid = o.result.get("run_id")
            if rid is None:
                problems.append(f"{here}: worker {o.job['worker']} made no run: {o.describe()}")
                continue
            meta_path = os.path.join(trash_dir, rid, "meta.yaml")
            try:
                with open(meta_path) as fh:
                    meta = yaml.safe_load(fh)
            except OSError as exc:
                problems.append(f"{here}: run {rid} of worker {o.job['worker']} is not in the trash: {exc}")
                continue
            stage = meta.get("lifecycle_stage")
            if stage != "deleted":
                why = f", {o.result['litexp_error']}" if o.result.get("litexp_error") else ""
                problems.append(
                    f"{here}: run {rid} of worker {o.job['worker']} (via {o.job['mount']}, exit {o.code}{why}) "
                    f"is {stage!r} in {os.path.relpath(meta_path, store.export)}"
                )
            record = records.get(rid)
            if record is None:
                problems.append(f"{here}: litexp does not read run {rid}")
                continue
            if record.lifecycle_stage != "deleted":
                problems.append(f"{here}: litexp reads run {rid} as {record.lifecycle_stage!r}")
            done = o.result.get("done", [])
            if o.code == 0:  # every update of this worker went through: none may be lost
                last_name = [d[1] for d in done if d[0] == "rename"][-1]
                if record.status != "FINISHED" or record.end_time is None:
                    problems.append(
                        f"{here}: run {rid} ended FINISHED but reads {record.status}, end {record.end_time}"
                    )
                if record.run_name != last_name or record.tags.get("mlflow.runName") != last_name:
                    problems.append(
                        f"{here}: run {rid} was renamed {last_name!r} last but reads run_name "
                        f"{record.run_name!r}, tag {record.tags.get('mlflow.runName')!r}"
                    )
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
