"""Views of what MLflow's client reports, made comparable between a file store and a server.

Ids, times and URIs differ between two stores written by the same scenario;
:func:`comparable` keys experiments by name and runs by experiment and run
name, drops those fields and maps run-id tags to run names.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict

from interop_support import mlflow_dump
from server_support import run_without_mlflow

#: How MLflow's SQL stores keep ±inf (they have no infinite floats): ± the largest double.
SQL_INFINITY = 1.7976931348623157e308
#: Tags and params whose value names the process or host, not the data.
VOLATILE_TAGS = frozenset(
    {"mlflow.source.name", "mlflow.source.git.commit", "litexp.source", "litexp.source.state"}
)  # the last two: push's mapping
VOLATILE_PARAMS = frozenset({"cmd-sys.argv"})


def _value(value: Any, server: bool) -> Any:
    if server and isinstance(value, float) and abs(value) == SQL_INFINITY:
        return math.copysign(math.inf, value)
    return value


SEARCHES = [
    {},
    {"filter_string": "metrics.loss < 0.5"},
    {"filter_string": "params.alpha = '0.5' and metrics.loss <= 1"},
    {"filter_string": "tags.purpose = 'interop'"},
    {"filter_string": "attributes.status = 'FINISHED'", "order_by": ["metrics.loss DESC"]},
    {"filter_string": "metrics.loss > 0.1", "order_by": ["attributes.start_time ASC"], "max_results": 2},
    {"filter_string": "metrics.child_metric != 2.0"},
    {"filter_string": "params.reason LIKE 'bo%'"},
    # litexp's extensions: evaluated by litexp over the server's pages
    {"filter_string": "metrics.loss < 0.5 OR params.child_param = 'c'"},
    {"filter_string": "NOT (attributes.status = 'FINISHED')", "order_by": ["attributes.run_name"]},
    {"filter_string": "metrics.child_metric IS NULL AND metrics.loss < 2"},
    {"filter_string": "params.reason IN ('boom', 'other')"},
    {"filter_string": "tags.purpose NOT IN ('interop') AND metrics.loss >= 0", "order_by": ["metrics.loss"]},
]

SCENARIO = """
import pickle
from interop_support import write_scenario
from litexp import FileExpManager, QlibRecorder

out = write_scenario(URI)
R = QlibRecorder(FileExpManager(URI, "Experiment"))
rec = R.get_recorder(recorder_id=out.runs["parent run"], experiment_name="interop main")
loaded = {name: rec.load_object(name) for name in ("pred", "params.pkl", "objects/nested/model")}
exp = R.get_exp(experiment_name="interop main", create=False)
frames = []
for kwargs in SEARCHES:
    frame = R.search_records([exp.id], **kwargs)
    names = list(frame["tags.mlflow.runName"]) if len(frame) else []
    frames.append({"names": names, "columns": sorted(c for c in frame.columns if c not in ("run_id", "experiment_id"))})
report({"runs": out.runs, "loaded": loaded, "frames": frames,
        "recorders": sorted(R.list_recorders(experiment_name="interop main")),
        "artifacts": rec.list_artifacts(), "local": rec.download_artifact("report", DST)})
"""


def log_scenario(uri: str, tmp: Path) -> Dict[str, Any]:
    """``interop_support.write_scenario`` at ``uri`` in a Python without MLflow, then litexp's reads of it."""
    code = f"URI = {uri!r}\nSEARCHES = {SEARCHES!r}\nDST = {str(tmp / 'download')!r}\n" + SCENARIO
    return run_without_mlflow(code, env={"LITEXP_SPOOL_DIR": str(tmp / "spool")}, timeout=300)


def comparable(dump: Dict[str, Any], server: bool) -> Dict[str, Any]:
    """``mlflow_dump.dump_with_client`` output keyed by names; ``server``: map SQL's ±inf back."""
    names = {e["experiment_id"]: e["name"] for e in dump["experiments"]}
    deleted = {e["experiment_id"] for e in dump["experiments"] if e["lifecycle_stage"] == "deleted"}
    run_names = {r["info"]["run_id"]: r["info"]["run_name"] for r in dump["runs"]}
    out: Dict[str, Any] = {}
    for exp in dump["experiments"]:
        if exp["name"] == "Default":
            continue
        out[f"experiment {exp['name']}"] = {"lifecycle_stage": exp["lifecycle_stage"], "tags": exp["tags"]}
    for run in dump["runs"]:
        info = run["info"]
        tags = {k: v for k, v in run["tags"].items() if k not in VOLATILE_TAGS}
        if "mlflow.parentRunId" in tags:
            tags["mlflow.parentRunId"] = run_names.get(tags["mlflow.parentRunId"], "?")
        record = {
            "run_name": info["run_name"],
            "user_id": info["user_id"],
            "status": info["status"],
            "ended": info["end_time"] is not None,
            "params": {k: v for k, v in run["params"].items() if k not in VOLATILE_PARAMS},
            "metrics": {k: _value(mlflow_dump.decode_float(v), server) for k, v in run["metrics"].items()},
            # points of one step and time have no order on a SQL store: compare them sorted
            "history": {
                key: sorted(
                    ([_value(mlflow_dump.decode_float(v), server), step] for _, v, step in points),
                    key=lambda p: (p[1], str(p[0])),
                )
                for key, points in run["metric_history"].items()
            },
            "tags": tags,
            # the server's artifact listing gives no size for an empty file
            "artifacts": [
                [p, d, 0 if (server and not d and size is None) else size] for p, d, size in run["artifacts"]
            ],
        }
        if info["experiment_id"] not in deleted:
            # MLflow's file store leaves runs of a deleted experiment active, and cannot list their artifacts
            record["lifecycle_stage"] = info["lifecycle_stage"]
        else:
            del record["artifacts"]
        out[f"run {names[info['experiment_id']]}/{info['run_name']}"] = record
    return json.loads(json.dumps(out, default=str))


def differences(expected: Dict[str, Any], actual: Dict[str, Any]) -> list:
    """Readable differences between two :func:`comparable` views."""
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"{key}: missing on the server")
        elif key not in expected:
            problems.append(f"{key}: only on the server")
        elif expected[key] != actual[key]:
            for field in sorted(set(expected[key]) | set(actual[key])):
                a, b = expected[key].get(field), actual[key].get(field)
                if a != b:
                    problems.append(f"{key}.{field}: file store {a!r} != server {b!r}")
    return problems


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
