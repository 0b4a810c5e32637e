"""Write a synthetic ``mlruns`` store straight to disk, for benchmarks.

    python tools/generate_store.py --runs 10000 --metrics 10 --params 10 --tags 5 --steps 1 --out DIR

The store has the default experiment ``0`` and one experiment (``bench`` unless
``--name`` says otherwise) holding every run. Each run has ``--metrics`` metrics
``m0..`` with ``--steps`` history points each, ``--params`` params ``p0..`` (values
``v0``..``v9``), ``--tags`` tags ``t0..`` plus the tags MLflow's fluent API writes
(``mlflow.runName``, ``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type``).
Statuses are mixed (about 80% FINISHED, 10% FAILED, 5% KILLED, 5% RUNNING with no
end time), start times are spread over 90 days in random order, and about 3% of
the latest metric values are NaN.

The files are written directly (no litexp or MLflow code), in the layout of
``docs/mlruns-format.md``: MLflow 3's meta.yaml key sets plus ``run_uuid``,
integer status codes, an ``end_time`` key in every run. The output depends only
on the seed and the sizes, except for the absolute path inside ``artifact_uri``
and ``artifact_location``. The latest value of every metric, the params and the
tags do not depend on ``--steps``, so stores that differ only in history length
give the same search results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]

BASE_TIME_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
SPREAD_MS = 90 * 24 * 3600 * 1000
STATUS_WEIGHTS = ((3, 80), (4, 10), (5, 5), (1, 5))  # FINISHED, FAILED, KILLED, RUNNING
NAN_RATE = 0.03
PARAM_CHOICES = 10
HISTORY_VARIANTS = 8
USER = "bench"
SOURCE_NAME = "bench.py"


def _dump_yaml(data: Dict[str, Any]) -> bytes:
    text = yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True)
    return text.encode("utf-8")


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _experiment_meta(root: str, experiment_id: str, name: str, created: int) -> Dict[str, Any]:
    return {
        "artifact_location": Path(os.path.join(root, experiment_id)).as_uri(),
        "creation_time": created,
        "effective_trace_archival_retention": None,
        "experiment_id": experiment_id,
        "last_update_time": created,
        "lifecycle_stage": "active",
        "name": name,
        "trace_location": None,
        "workspace": "default",
    }


def _history_bodies(rng: random.Random, metrics: int, steps: int) -> List[List[bytes]]:
    """For each metric, a few alternative histories of ``steps - 1`` lines (all but the last point)."""
    bodies: List[List[bytes]] = []
    for _ in range(metrics):
        variants = []
        for _ in range(HISTORY_VARIANTS if steps > 1 else 1):
            lines = [f"{BASE_TIME_MS + k} {rng.random()!r} {k}\n" for k in range(steps - 1)]
            variants.append("".join(lines).encode("ascii"))
        bodies.append(variants)
    return bodies


def generate_store(
    out: str,
    runs: int = 10_000,
    metrics: int = 10,
    params: int = 10,
    tags: int = 5,
    steps: int = 1,
    seed: int = 0,
    name: str = "bench",
) -> Dict[str, Any]:
    """Write the store under ``out`` (which must not hold an ``mlruns`` tree yet).

    Returns a summary: ``root``, ``experiment_id``, ``run_ids`` (in creation order)
    and the sizes. Deterministic for a given seed and sizes.
    """
    if runs < 0 or metrics < 0 or params < 0 or tags < 0:
        raise ValueError("sizes must be non-negative")
    if steps < 1:
        raise ValueError("--steps must be at least 1 (MLflow cannot read an empty metric file)")
    root = os.path.abspath(out)
    if os.path.isdir(os.path.join(root, "0")):
        raise FileExistsError(f"{root} already holds a store")
    rng = random.Random(seed)
    history_rng = random.Random(seed * 1_000_003 + 17)
    experiment_id = str(10**17 + rng.randrange(9 * 10**17))
    os.makedirs(os.path.join(root, ".trash"), exist_ok=True)
    os.makedirs(os.path.join(root, "0"), exist_ok=True)
    _write(os.path.join(root, "0", "meta.yaml"), _dump_yaml(_experiment_meta(root, "0", "Default", BASE_TIME_MS)))
    exp_dir = os.path.join(root, experiment_id)
    os.makedirs(exp_dir)
    _write(os.path.join(exp_dir, "meta.yaml"), _dump_yaml(_experiment_meta(root, experiment_id, name, BASE_TIME_MS)))

    bodies = _history_bodies(history_rng, metrics, steps)
    statuses = [code for code, weight in STATUS_WEIGHTS for _ in range(weight)]
    exp_uri = Path(exp_dir).as_uri()
    metric_names = [f"m{j}" for j in range(metrics)]
    param_names = [f"p{k}" for k in range(params)]
    tag_names = [f"t{k}" for k in range(tags)]
    run_ids: List[str] = []
    last_step = steps - 1
    for i in range(runs):
        run_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        start = BASE_TIME_MS + rng.randrange(SPREAD_MS)
        status = rng.choice(statuses)
        duration = 1000 + rng.randrange(3_600_000)
        end: Optional[int] = None if status == 1 else start + duration
        values = [float("nan") if rng.random() < NAN_RATE else rng.random() for _ in range(metrics)]
        variants = [rng.randrange(HISTORY_VARIANTS) if steps > 1 else 0 for _ in range(metrics)]
        param_values = [f"v{rng.randrange(PARAM_CHOICES)}" for _ in range(params)]
        tag_values = [f"t{k}-{rng.randrange(20)}" for k in range(tags)]
        run_name = f"run-{i:05d}"

        run_dir = os.path.join(exp_dir, run_id)
        os.makedirs(run_dir)
        for sub in ("metrics", "params", "artifacts", "tags"):
            os.mkdir(os.path.join(run_dir, sub))
        last_ts = start + duration // 2
        for key, value, variant, body in zip(metric_names, values, variants, bodies):
            line = f"{last_ts} {value!r} {last_step}\n".encode("ascii")
            _write(os.path.join(run_dir, "metrics", key), body[variant] + line)
        for key, value in zip(param_names, param_values):
            _write(os.path.join(run_dir, "params", key), value.encode("utf-8"))
        all_tags = {
            "mlflow.runName": run_name,
            "mlflow.user": USER,
            "mlflow.source.name": SOURCE_NAME,
            "mlflow.source.type": "LOCAL",
        }
        all_tags.update(zip(tag_names, tag_values))
        for key, value in all_tags.items():
            _write(os.path.join(run_dir, "tags", key), value.encode("utf-8"))
        meta = {
            "artifact_uri": f"{exp_uri}/{run_id}/artifacts",
            "end_time": end,
            "entry_point_name": "",
            "experiment_id": experiment_id,
            "lifecycle_stage": "active",
            "run_id": run_id,
            "run_name": run_name,
            "run_uuid": run_id,
            "source_name": "",
            "source_type": 4,
            "source_version": "",
            "start_time": start,
            "status": status,
            "tags": [],
            "user_id": USER,
        }
        _write(os.path.join(run_dir, "meta.yaml"), _dump_yaml(meta))
        run_ids.append(run_id)
    return {
        "root": root,
        "experiment_id": experiment_id,
        "run_ids": run_ids,
        "runs": runs,
        "metrics": metrics,
        "params": params,
        "tags": tags,
        "steps": steps,
        "seed": seed,
    }


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; prints a JSON summary (without the run ids) on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1, help="history points per metric")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="bench", help="experiment name")
    parser.add_argument("--out", required=True, help="store root (the mlruns folder)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate_store(
        args.out, args.runs, args.metrics, args.params, args.tags, args.steps, args.seed, args.name
    )
    summary.pop("run_ids")
    summary["seconds"] = round(time.perf_counter() - started, 3)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
