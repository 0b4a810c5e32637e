"""Dump, as JSON, everything an installed MLflow reports about a ``mlruns`` file store.

Run it with the Python of the environment whose MLflow should read the store::

    MLFLOW_ALLOW_FILE_STORE=true /path/to/venv/bin/python tools/mlflow_dump.py STORE_DIR OUT.json

Only the standard library and ``mlflow`` are imported, so any MLflow from 1.30 on can run
it. The output (see :func:`dump_store`) has one entry per experiment (active and deleted,
with tags) and one per run (info fields, params, latest metrics, every metric history,
tags, the recursive artifact listing and dataset inputs), plus the order in which
``search_runs`` returns each experiment's runs. Non-finite floats are written as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` so the file is strict JSON.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Dict, List, Optional

RUN_INFO_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
)
EXPERIMENT_FIELDS = (
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
)
MAX_RESULTS = 50000


def encode_float(value: float) -> Any:
    """A float as strict JSON: finite values as numbers, the others as strings."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def decode_float(value: Any) -> float:
    """Inverse of :func:`encode_float`."""
    return float(value)


def _list_experiments(client: Any) -> List[Any]:
    from mlflow.entities import ViewType

    if hasattr(client, "search_experiments"):
        found: List[Any] = []
        token = None
        while True:
            page = client.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=token)
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return found
    return list(client.list_experiments(view_type=ViewType.ALL))  # MLflow < 1.28


def _artifacts(client: Any, run_id: str, path: Optional[str] = None) -> List[List[Any]]:
    out: List[List[Any]] = []
    for info in client.list_artifacts(run_id, path):
        out.append([info.path, bool(info.is_dir), None if info.is_dir else info.file_size])
        if info.is_dir:
            out.extend(_artifacts(client, run_id, info.path))
    return out


def _datasets(run: Any) -> List[Dict[str, Any]]:
    inputs = getattr(run, "inputs", None)
    found = []
    for dataset_input in getattr(inputs, "dataset_inputs", None) or []:
        tags = {t.key: t.value for t in dataset_input.tags}
        found.append(
            {
                "name": dataset_input.dataset.name,
                "digest": dataset_input.dataset.digest,
                "context": tags.get("mlflow.data.context"),
            }
        )
    return sorted(found, key=lambda d: (d["name"], d["digest"], d["context"] or ""))


def dump_run(client: Any, run_id: str) -> Dict[str, Any]:
    """What ``client`` reports about one run (``get_run``, histories, artifacts)."""
    run = client.get_run(run_id)
    info = {field: getattr(run.info, field, None) for field in RUN_INFO_FIELDS}
    metrics = run.data.metrics
    histories = {}
    for key in sorted(metrics):
        histories[key] = [[m.timestamp, encode_float(m.value), m.step] for m in client.get_metric_history(run_id, key)]
    return {
        "info": info,
        "params": dict(sorted(run.data.params.items())),
        "metrics": {k: encode_float(v) for k, v in sorted(metrics.items())},
        "metric_history": histories,
        "tags": dict(sorted(run.data.tags.items())),
        "artifacts": _artifacts(client, run_id),
        "datasets": _datasets(run),
    }


def dump_with_client(client: Any) -> Dict[str, Any]:
    """Everything ``client`` (an ``MlflowClient`` on a file store) reports about its store."""
    import mlflow
    from mlflow.entities import ViewType

    experiments = []
    search_order: Dict[str, List[str]] = {}
    active_order: Dict[str, List[str]] = {}
    runs: List[Dict[str, Any]] = []
    for exp in sorted(_list_experiments(client), key=lambda e: e.experiment_id):
        record = {field: getattr(exp, field, None) for field in EXPERIMENT_FIELDS}
        record["tags"] = dict(sorted((exp.tags or {}).items()))
        experiments.append(record)
        every = client.search_runs([exp.experiment_id], "", ViewType.ALL, max_results=MAX_RESULTS)
        search_order[exp.experiment_id] = [r.info.run_id for r in every]
        active = client.search_runs([exp.experiment_id], "", ViewType.ACTIVE_ONLY, max_results=MAX_RESULTS)
        active_order[exp.experiment_id] = [r.info.run_id for r in active]
        for found in every:
            runs.append(dump_run(client, found.info.run_id))
    runs.sort(key=lambda r: r["info"]["run_id"])
    return {
        "mlflow_version": mlflow.__version__,
        "experiments": experiments,
        "runs": runs,
        "search_order": search_order,
        "active_search_order": active_order,
    }


def dump_store(root: str) -> Dict[str, Any]:
    """Everything the installed MLflow reports about the file store at ``root``."""
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    uri = "file://" + os.path.abspath(root)
    return dump_with_client(MlflowClient(tracking_uri=uri))


def main(argv: Optional[List[str]] = None) -> int:
    """``mlflow_dump.py STORE_DIR [OUT.json]``: write the dump (to stdout without OUT)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    data = json.dumps(dump_store(args[0]), indent=1, sort_keys=True, allow_nan=False)
    if len(args) == 2:
        with open(args[1], "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
    else:
        print(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
