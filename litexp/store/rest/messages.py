"""MLflow's REST JSON ↔ litexp's records, and log-batch requests cut to the server's limits."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Iterator, List, Mapping, Sequence, Tuple

from ...records import ACTIVE, DatasetInput, ExperimentRecord, Heartbeat, MetricPoint, RunRecord

#: MLflow's ``runs/log-batch`` limits.
MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ITEMS = 1000
MAX_BODY = 1024 * 1024
_BODY_MARGIN = 4096  # the run id and the JSON around the lists

#: The run tag holding the heartbeat of a run logged through litexp.
HEARTBEAT_TAG = "litexp.heartbeat"

Point = Tuple[str, float, int, int]  # key, value, timestamp, step


def _int(value: Any) -> Any:
    return None if value is None or value == "" else int(value)


def number(value: Any) -> float:
    """A JSON double (numbers, or ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"`` strings)."""
    return float(value)


def json_number(value: float) -> Any:
    """The JSON form MLflow's server parses: special floats as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _pairs(items: Any) -> Dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or ()}


def key_values(mapping: Mapping[str, str]) -> List[Dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def experiment_record(data: Mapping[str, Any]) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=str(data["experiment_id"]),
        name=str(data.get("name", "")),
        artifact_location=str(data.get("artifact_location", "")),
        lifecycle_stage=str(data.get("lifecycle_stage") or ACTIVE),
        creation_time=_int(data.get("creation_time")),
        last_update_time=_int(data.get("last_update_time")),
        tags=_pairs(data.get("tags")),
    )


def run_record(data: Mapping[str, Any]) -> RunRecord:
    info = data.get("info") or {}
    body = data.get("data") or {}
    metrics: Dict[str, float] = {}
    for m in body.get("metrics") or ():
        metrics[str(m["key"])] = number(m.get("value", 0.0))
    datasets = []
    for item in (data.get("inputs") or {}).get("dataset_inputs") or ():
        dataset = item.get("dataset") or {}
        context = _pairs(item.get("tags")).get("mlflow.data.context")
        datasets.append(DatasetInput(str(dataset.get("name", "")), str(dataset.get("digest", "")), context))
    run_id = str(info.get("run_id") or info.get("run_uuid"))
    return RunRecord(
        run_id=run_id,
        experiment_id=str(info.get("experiment_id", "")),
        run_name=str(info.get("run_name") or ""),
        user_id=str(info.get("user_id") or ""),
        status=str(info.get("status") or "RUNNING"),
        start_time=int(info.get("start_time") or 0),
        end_time=_int(info.get("end_time")),
        artifact_uri=str(info.get("artifact_uri") or ""),
        lifecycle_stage=str(info.get("lifecycle_stage") or ACTIVE),
        metrics=metrics,
        params=_pairs(body.get("params")),
        tags=_pairs(body.get("tags")),
        datasets=datasets,
    )


def metric_point(data: Mapping[str, Any]) -> MetricPoint:
    return MetricPoint(
        str(data["key"]), number(data.get("value", 0.0)), int(data.get("timestamp") or 0), int(data.get("step") or 0)
    )


def metric_json(point: Sequence[Any]) -> Dict[str, Any]:
    key, value, timestamp, step = point
    return {"key": key, "value": json_number(float(value)), "timestamp": int(timestamp), "step": int(step)}


def heartbeat_text(owner: Heartbeat, beat_ms: int) -> str:
    return f"{owner.host} {owner.pid} {owner.pid_start or '-'} {owner.boot_id or '-'} {beat_ms}"


def parse_heartbeat(text: str) -> Any:
    """The Heartbeat a heartbeat tag holds, or None when it is not one."""
    parts = text.split()
    try:
        return Heartbeat(
            host=parts[0],
            pid=int(parts[1]),
            pid_start=None if parts[2] == "-" else int(parts[2]),
            boot_id=None if parts[3] == "-" else parts[3],
            last_beat_ms=int(parts[4]),
        )
    except (IndexError, ValueError):
        return None


def batch_requests(
    run_id: str, metrics: Sequence[Dict[str, Any]], params: Sequence[Dict[str, str]], tags: Sequence[Dict[str, str]]
) -> Iterator[Dict[str, Any]]:
    """``log-batch`` bodies within MLflow's limits, in order: params, then tags, then metrics.

    Params go first so that a refused param spoils no metric of the same call.
    """
    current: Dict[str, List[Dict[str, Any]]] = {"metrics": [], "params": [], "tags": []}
    size = _BODY_MARGIN
    limits = {"metrics": MAX_METRICS, "params": MAX_PARAMS, "tags": MAX_TAGS}
    for kind, items in (("params", params), ("tags", tags), ("metrics", metrics)):
        for item in items:
            item_size = len(json.dumps(item)) + 2
            total = sum(len(v) for v in current.values())
            if total and (len(current[kind]) >= limits[kind] or total >= MAX_ITEMS or size + item_size > MAX_BODY):
                yield {"run_id": run_id, **{k: v for k, v in current.items() if v}}
                current = {"metrics": [], "params": [], "tags": []}
                size = _BODY_MARGIN
            current[kind].append(item)
            size += item_size
    if any(current.values()):
        yield {"run_id": run_id, **{k: v for k, v in current.items() if v}}
