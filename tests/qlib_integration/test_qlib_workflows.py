"""Qlib's own workflows run unchanged on litexp, and match Qlib's MLflowExpManager on the same data.

Each flow of ``flows.py`` runs twice in fresh interpreters, once with the README's
``qlib.init(exp_manager={"class": "FileExpManager", "module_path": "litexp", ...})`` and once
with Qlib's default ``MLflowExpManager``; only that config differs. Then MLflow reads the
store litexp wrote.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import pytest
from qlib_support import Flows

pytestmark = pytest.mark.usefixtures("need_qlib")

ADAPTER = "litexp.qlib_adapter.FileExpManager"
QLIB_MLFLOW = "qlib.workflow.expm.MLflowExpManager"
WORKFLOW_ARTIFACTS = [
    "label.pkl",
    "portfolio_analysis/indicator_analysis_1day.pkl",
    "portfolio_analysis/indicators_normal_1day.pkl",
    "portfolio_analysis/indicators_normal_1day_obj.pkl",
    "portfolio_analysis/port_analysis_1day.pkl",
    "portfolio_analysis/positions_normal_1day.pkl",
    "portfolio_analysis/report_normal_1day.pkl",
    "pred.pkl",
    "sig_analysis/ic.pkl",
    "sig_analysis/ric.pkl",
    "trained_model",
]


# ----------------------------------------------------------------- comparing
def same(a: Any, b: Any) -> bool:
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return isinstance(b, type(a)) and a.equals(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def store_differences(
    litexp_store: Dict[str, List[Dict[str, Any]]], mlflow_store: Dict[str, List[Dict[str, Any]]]
) -> List[str]:
    """Every difference between two stores' summaries except run ids."""
    problems = []
    if sorted(litexp_store) != sorted(mlflow_store):
        problems.append(f"experiments: litexp {sorted(litexp_store)} != MLflow {sorted(mlflow_store)}")
    for name in sorted(set(litexp_store) & set(mlflow_store)):
        ours, theirs = litexp_store[name], mlflow_store[name]
        if len(ours) != len(theirs):
            problems.append(f"{name}: {len(ours)} recorders on litexp, {len(theirs)} on MLflow")
        for i, (a, b) in enumerate(zip(ours, theirs)):
            for key in sorted(set(a) | set(b)):
                if key in ("id", "objects"):
                    continue
                if not same(a.get(key), b.get(key)):
                    problems.append(f"{name}[{i}].{key}: litexp {a.get(key)!r:.300} != MLflow {b.get(key)!r:.300}")
            for obj in sorted(set(a["objects"]) | set(b["objects"])):
                if not same(a["objects"].get(obj), b["objects"].get(obj)):
                    problems.append(f"{name}[{i}] object {obj}: differs")
    return problems


def only_recorder(summary: Dict[str, Any], experiment: str) -> Dict[str, Any]:
    recorders = summary["store"][experiment]
    assert len(recorders) == 1, recorders
    return recorders[0]


# ----------------------------------------------------------------- workflow_by_code
def test_workflow_by_code_runs_on_litexp(flows: Flows) -> None:
    summary, _ = flows("workflow", "litexp")
    assert summary["manager_class"] == ADAPTER
    rec = only_recorder(summary, "workflow")
    assert rec["id"] == summary["recorder_id"]
    assert rec["status"] == "FINISHED" and rec["info_class"] == "Recorder"
    assert rec["artifacts"] == WORKFLOW_ARTIFACTS
    assert set(summary["loaded"]) == set(WORKFLOW_ARTIFACTS)  # load_object of every artifact Qlib wrote
    assert summary["loaded"]["pred.pkl"] == "DataFrame" and summary["loaded"]["trained_model"] == "LGBModel"
    metrics = rec["metrics"]
    for key in ("IC", "ICIR", "Rank IC", "Rank ICIR", "1day.excess_return_with_cost.annualized_return"):
        assert key in metrics, sorted(metrics)
    assert metrics["IC"] > 0.05  # the synthetic data carries a signal the model finds
    assert rec["params"]["model.class"] == "LGBModel"


def test_workflow_by_code_matches_mlflowexpmanager(flows: Flows) -> None:
    ours, _ = flows("workflow", "litexp")
    theirs, _ = flows("workflow", "mlflow")
    assert theirs["manager_class"] == QLIB_MLFLOW
    assert store_differences(ours["store"], theirs["store"]) == []
    assert ours["loaded"] == theirs["loaded"]


# ----------------------------------------------------------------- qrun
def _without_manager(summary: Dict[str, Any]) -> Dict[str, Any]:
    """The saved ``config`` names the manager: the one thing that differs on purpose."""
    summary = copy.deepcopy(summary)
    for recorders in summary["store"].values():
        for rec in recorders:
            config = rec["objects"].get("config")
            if config is not None:
                config["qlib_init"].pop("exp_manager")
    return summary


def test_qrun_runs_on_litexp(flows: Flows) -> None:
    summary, _ = flows("qrun", "litexp")
    rec = only_recorder(summary, "workflow")
    assert rec["status"] == "FINISHED"
    assert {"config", "dataset", "params.pkl", "pred.pkl", "task", "sig_analysis/ic.pkl"} <= set(rec["artifacts"])
    assert rec["objects"]["config"]["qlib_init"]["exp_manager"]["module_path"] == "litexp"
    assert "IC" in rec["metrics"] and "1day.excess_return_with_cost.annualized_return" in rec["metrics"]


def test_qrun_matches_mlflowexpmanager(flows: Flows) -> None:
    ours, _ = flows("qrun", "litexp")
    theirs, _ = flows("qrun", "mlflow")
    assert store_differences(_without_manager(ours)["store"], _without_manager(theirs)["store"]) == []


# ----------------------------------------------------------------- rolling, collectors, online tools
def test_trainer_collector_online_tools_and_rolling_run_on_litexp(flows: Flows) -> None:
    summary, _ = flows("rolling", "litexp")
    seen = summary["seen"]
    assert len(seen["tasks"]) == 3
    assert seen["trained"] == [True, True, True]  # Qlib's Recorder class
    assert seen["train_status"] == ["end_task_train"] * 3  # end_train took one recorder and a list
    # RecorderCollector by experiment name, by Experiment object and by callable: the same groups
    assert list(seen["collected"]["pred"]) == ["('LGBModel',)"]
    assert seen["collect_same"] == [True, True]
    assert seen["collect_missing_keys"] == ["pred"]  # the missing artifact was skipped (only_exist)
    assert seen["collect_missing_strict"] == "LoadObjectError"
    assert seen["online_tags"] == ["online", "offline", "offline"]
    assert seen["online_models"] == [True]
    assert seen["set_tag"] == [2, "online"]
    before, after, n_before, n_after = seen["online_pred"]
    assert before < after and n_before < n_after  # update_online_pred extended the predictions
    assert after == "2021-12-01 00:00:00"
    store = summary["store"]
    assert [len(store[name]) for name in ("rolling_trainer", "rolling_models", "rolling_final")] == [3, 3, 1]
    final = store["rolling_final"][0]
    assert final["id"] == seen["rolling_recorder"]
    assert {"pred.pkl", "label.pkl", "sig_analysis/ic.pkl"} <= set(final["artifacts"])
    assert "IC" in final["metrics"] and final["status"] == "FINISHED"


def test_rolling_flows_match_mlflowexpmanager(flows: Flows) -> None:
    ours, _ = flows("rolling", "litexp")
    theirs, _ = flows("rolling", "mlflow")
    assert store_differences(ours["store"], theirs["store"]) == []
    a, b = dict(ours["seen"]), dict(theirs["seen"])
    a.pop("rolling_recorder")
    b.pop("rolling_recorder")
    assert [k for k in a if not same(a[k], b.get(k))] == []


# ----------------------------------------------------------------- MLflow reads the litexp stores
@pytest.mark.parametrize("flow", ["workflow", "qrun", "rolling"])
def test_mlflow_reads_what_qlib_wrote_through_litexp(flows: Flows, flow: str) -> None:
    from interop_support import diff_views, litexp_view, mlflow_dump
    from mlflow.tracking import MlflowClient

    _, work = flows(flow, "litexp")
    root = work / "mlruns"
    seen = mlflow_dump.dump_with_client(MlflowClient(tracking_uri=root.resolve().as_uri()))
    ours = litexp_view(root)
    assert diff_views(seen, ours) == []
    runs = [r for r in seen["runs"] if r["info"]["lifecycle_stage"] == "active"]
    assert runs and all(r["info"]["status"] == "FINISHED" for r in runs)
    assert all(r["artifacts"] and r["metric_history"] or not r["metrics"] for r in runs)


@pytest.mark.parametrize("flow", ["workflow", "qrun", "rolling"])
def test_metric_histories_match_mlflowexpmanager(flows: Flows, flow: str) -> None:
    """Every metric point (value and step, in order) Qlib logged is the same in both stores."""
    from interop_support import litexp_view

    def histories(work: Path) -> Dict[str, List[Any]]:
        view = litexp_view(work / "mlruns")
        names = {e["experiment_id"]: e["name"] for e in view["experiments"]}
        out: Dict[str, List[Any]] = {}
        for run in sorted(view["runs"], key=lambda r: (r["info"]["start_time"], r["info"]["run_name"])):
            if run["info"]["lifecycle_stage"] != "active":
                continue
            out.setdefault(names[run["info"]["experiment_id"]], []).append(
                {key: [[value, step] for _, value, step in points] for key, points in run["metric_history"].items()}
            )
        return out

    _, ours = flows(flow, "litexp")
    _, theirs = flows(flow, "mlflow")
    assert histories(ours) == histories(theirs)
