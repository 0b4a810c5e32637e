"""Build the golden corpus: small ``mlruns`` stores written by real MLflow releases.

For every MLflow version asked for, this script makes (or reuses) a virtualenv with that
release, lets that release's own API write a small store, and records with the same
release what it reports about the store (``tools/mlflow_dump.py``). The output is what
``tests/interop/test_corpus.py`` checks litexp against::

    tests/data/corpus/<version>/store/          the store, as MLflow wrote it (as ``mlruns/``)
    tests/data/corpus/<version>/expected.json   what that MLflow reports about it
    tests/data/corpus/<version>/dirs.json       every folder of the store (git drops empty ones)

Usage (from the repository root)::

    python tools/make_corpus.py                       # 1.30.1 2.22.5 3.17.2
    python tools/make_corpus.py --versions 3.17.2 --venvs /tmp/corpus-venvs

The store covers: params, metric histories with NaN/inf and repeated steps, keys with
``/`` ``.`` and spaces, run and experiment tags, a child run (``nested=True``), FAILED,
KILLED, SCHEDULED and still-RUNNING runs, a deleted run, a deleted experiment, a dataset
input (``mlflow.log_input``, MLflow >= 2.4), a metric logged against a dataset (MLflow 3),
nested artifact folders, an empty artifact and a pickled object. Timestamps and ids are
whatever MLflow makes; ``expected.json`` records them.

``--write-store DIR`` is the inner step, run by the virtualenv's Python: it needs only
``mlflow`` (and what that release depends on).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_VERSIONS = ("1.30.1", "2.22.5", "3.17.2")
DEFAULT_OUT = REPO / "tests" / "data" / "corpus"
DEFAULT_VENVS = REPO / ".corpus-venvs"
PICKLED_OBJECT = {"pred": [0.25, 0.5], "label": "corpus"}
CORPUS_USER = "corpus-user"

EXPERIMENT_TAGS = {
    "team": "research",
    "owner/group": "quant",
    "config.version": "1.2",
    "tag with space": "héllo ✓",
}
RUN_TAGS = {
    "purpose": "golden corpus",
    "tag/with/slash": "a/b",
    "tag.with.dot": "1.0",
    "tag with space": "multi\nline value",
}
PARAMS = {
    "alpha": 0.5,
    "model/name": "lgbm",
    "opt.lr": "0.05",
    "param with space": "yes",
    "long_param": "x" * 300,
    "empty_param": "",
}


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for MLflow subprocesses: file store allowed, no telemetry."""
    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_ALLOW_FILE_STORE": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "GIT_PYTHON_REFRESH": "quiet",
            "PYTHONWARNINGS": "ignore",
        }
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- writer
def _pause() -> None:
    """Keep start times of consecutive runs distinct (MLflow orders by start_time)."""
    time.sleep(0.02)


def _create_run(client: Any, experiment_id: str, name: str) -> Any:
    try:
        return client.create_run(experiment_id, run_name=name)
    except TypeError:  # releases without run_name=
        return client.create_run(experiment_id, tags={"mlflow.runName": name})


def _artifact_tree(folder: Path) -> Path:
    (folder / "plots" / "sub").mkdir(parents=True)
    (folder / "plots" / "curve.txt").write_text("0 1\n1 0.5\n", encoding="utf-8")
    (folder / "plots" / "sub" / "figure.txt").write_text("a nested artifact\n", encoding="utf-8")
    (folder / "notes.txt").write_text("notes of the parent run\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    with open(folder / "pred.pkl", "wb") as fh:
        pickle.dump(PICKLED_OBJECT, fh, protocol=4)
    return folder


def write_store(root: str) -> None:
    """Write the corpus store at ``root`` (a new folder) with the installed MLflow's API."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(Path(root).resolve().as_uri())
    client = MlflowClient()
    major = int(mlflow.__version__.split(".")[0])
    files = _artifact_tree(Path(tempfile.mkdtemp(prefix="corpus-files-")))

    exp_id = client.create_experiment("corpus main")
    for key, text in EXPERIMENT_TAGS.items():
        client.set_experiment_tag(exp_id, key, text)

    # The parent run: every kind of data, a dataset input and a nested child run.
    with mlflow.start_run(experiment_id=exp_id, run_name="parent run") as parent:
        rid = parent.info.run_id
        mlflow.log_params(PARAMS)
        base = int(time.time() * 1000)
        for step in range(5):
            client.log_metric(rid, "loss", 1.0 / (step + 1), timestamp=base + step, step=step)
        # repeated steps; at step 2 two values share a timestamp (the greater value is latest)
        for ts, value, step in [(0, 0.1, 0), (1, 0.2, 1), (2, 0.15, 1), (3, 0.3, 2), (3, 0.25, 2)]:
            client.log_metric(rid, "train/acc", value, timestamp=base + ts, step=step)
        for ts, value, step in [(0, float("nan"), 0), (1, float("inf"), 1), (2, 0.5, 1), (3, float("-inf"), 2)]:
            client.log_metric(rid, "val.score", value, timestamp=base + ts, step=step)
        for ts, value, step in [(0, 1.0, 0), (1, float("nan"), 1)]:
            client.log_metric(rid, "metric with space", value, timestamp=base + ts, step=step)
        for ts, value, step in [(0, 5.0, 3), (1, 4.0, -1), (2, 3.0, 0)]:
            client.log_metric(rid, "odd steps", value, timestamp=base + ts, step=step)
        client.log_metric(rid, "late/older", 2.0, timestamp=base + 10, step=1)
        client.log_metric(rid, "late/older", 1.0, timestamp=base + 5, step=1)
        mlflow.log_metric("no_step", 3.0)
        mlflow.set_tags(RUN_TAGS)
        mlflow.log_artifact(str(files / "notes.txt"))
        mlflow.log_artifact(str(files / "empty.txt"))
        mlflow.log_artifacts(str(files / "plots"), artifact_path="plots")
        mlflow.log_artifact(str(files / "pred.pkl"), artifact_path="objects")
        mlflow.log_text("hello from log_text\n", "texts/hello.txt")
        if hasattr(mlflow, "log_input"):
            import pandas as pd
            from mlflow.data.pandas_dataset import from_pandas

            frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]})
            dataset = from_pandas(frame, source="https://example.com/prices.csv", name="prices")
            mlflow.log_input(dataset, context="training")
            if major >= 3:
                mlflow.log_metric("eval/ds_metric", 0.75, step=3, dataset=dataset)
        _pause()
        with mlflow.start_run(experiment_id=exp_id, run_name="child run", nested=True):
            mlflow.log_param("child_param", "c")
            mlflow.log_metric("child_metric", 2.0, step=1)
            mlflow.log_metric("child_metric", 2.5, step=2)
    _pause()

    mlflow.start_run(experiment_id=exp_id, run_name="failed run")
    mlflow.log_param("reason", "boom")
    mlflow.log_metric("loss", 9.0)
    mlflow.end_run(status="FAILED")
    _pause()

    mlflow.start_run(experiment_id=exp_id, run_name="killed run")
    mlflow.log_metric("loss", 7.0, step=1)
    mlflow.end_run(status="KILLED")
    _pause()

    scheduled = _create_run(client, exp_id, "scheduled run")
    client.set_terminated(scheduled.info.run_id, "SCHEDULED")
    _pause()

    bare = _create_run(client, exp_id, "bare run")
    client.set_terminated(bare.info.run_id, "FINISHED")
    _pause()

    running = _create_run(client, exp_id, "running run")
    client.log_param(running.info.run_id, "still", "running")
    client.set_tag(running.info.run_id, "state", "open")
    _pause()

    with mlflow.start_run(experiment_id=exp_id, run_name="deleted run") as run:
        mlflow.log_param("gone", "yes")
        mlflow.log_metric("loss", 0.9)
        mlflow.set_tag("note", "deleted later")
    client.delete_run(run.info.run_id)
    _pause()

    second = client.create_experiment("second exp/v2.0 with space")
    with mlflow.start_run(experiment_id=second, run_name="second run"):
        mlflow.log_metric("score", 0.1, step=0)
        mlflow.log_metric("score", 0.2, step=1)
    _pause()

    with mlflow.start_run(experiment_id="0", run_name="default run"):
        mlflow.log_param("where", "Default")
    _pause()

    gone = client.create_experiment("corpus deleted")
    client.set_experiment_tag(gone, "why", "deleted on purpose")
    with mlflow.start_run(experiment_id=gone, run_name="run of deleted experiment"):
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 1.0)
        mlflow.log_artifact(str(files / "notes.txt"))
    client.delete_experiment(gone)
    shutil.rmtree(files, ignore_errors=True)


# ---------------------------------------------------------------------- orchestrator
def ensure_venv(venvs: Path, version: str, package: str) -> Path:
    """The Python of a virtualenv holding ``package`` (created under ``venvs`` once, then reused)."""
    venv = venvs / f"mlflow-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".litexp-ready"
    if marker.is_file():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    venvs.mkdir(parents=True, exist_ok=True)
    print(f"[{version}] creating {venv} with {package}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
        check=True,
        env=child_env(),
    )
    subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"], check=True, env=child_env())
    marker.write_text(package + "\n", encoding="utf-8")
    return python


def list_dirs(root: Path) -> List[str]:
    """Every folder below ``root``, relative and POSIX-style, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir())


def build_version(version: str, python: Path, out_root: Path) -> Path:
    """Write, dump and install the corpus of one MLflow version under ``out_root/version``."""
    work = Path(tempfile.mkdtemp(prefix=f"litexp-corpus-{version}-"))
    try:
        shutil.copy(Path(__file__), work / "make_corpus.py")
        env = child_env({"USER": CORPUS_USER, "LOGNAME": CORPUS_USER})
        store = work / "mlruns"
        subprocess.run([str(python), "make_corpus.py", "--write-store", str(store)], cwd=work, env=env, check=True)
        expected = work / "expected.json"
        subprocess.run(
            [str(python), str(HERE / "mlflow_dump.py"), str(store), str(expected)], cwd=work, env=env, check=True
        )
        target = out_root / version
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copytree(store, target / "store")  # not "mlruns/", which .gitignore hides
        shutil.copy(expected, target / "expected.json")
        (target / "dirs.json").write_text(json.dumps(list_dirs(store), indent=1) + "\n", encoding="utf-8")
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+", default=list(DEFAULT_VERSIONS), help="MLflow versions")
    parser.add_argument("--venvs", type=Path, default=DEFAULT_VENVS, help="virtualenv cache folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus folder")
    parser.add_argument(
        "--package", default="mlflow=={version}", help="pip requirement, {version} is replaced (default: %(default)s)"
    )
    parser.add_argument("--write-store", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_store:
        write_store(args.write_store)
        return 0
    failed = []
    for version in args.versions:
        try:
            python = ensure_venv(args.venvs.resolve(), version, args.package.format(version=version))
            target = build_version(version, python, args.out.resolve())
        except subprocess.CalledProcessError as exc:
            print(f"[{version}] FAILED: {exc}", file=sys.stderr, flush=True)
            failed.append(version)
            continue
        print(f"[{version}] wrote {target} ({_size(target) // 1024} KiB)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
