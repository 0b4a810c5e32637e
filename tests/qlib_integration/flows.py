"""Qlib's own workflows, run unchanged under a chosen experiment manager, summarised for comparison.

Run as ``python flows.py FLOW --manager litexp|mlflow --data DIR --work DIR --out OUT.pkl``.
FLOW is ``workflow`` (examples/workflow_by_code.py: LGBModel on Alpha158, SignalRecord,
SigAnaRecord, PortAnaRecord), ``qrun`` (the ``qrun`` command on a YAML workflow whose
``qlib_init`` names the manager) or ``rolling`` (TrainerR + RollingGen, RecorderCollector with
RollingGroup, OnlineToolR, ``qlib.contrib.rolling`` ``Rolling.run()``). Only the
``qlib.init(exp_manager=...)`` config differs between the managers. OUT gets a pickle of
builtins and pandas objects only (so it loads without Qlib): what the flow observed, and a
summary of every experiment, recorder and artifact in the store.
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import yaml

BENCHMARK = "SH000300"
TEST = ("2021-05-06", "2021-11-26")
HANDLER = {
    "class": "Alpha158",
    "module_path": "qlib.contrib.data.handler",
    "kwargs": {
        "start_time": "2020-01-02",
        "end_time": "2021-12-01",
        "fit_start_time": "2020-03-02",
        "fit_end_time": "2020-12-31",
        "instruments": "csi300",
    },
}
MODEL = {
    "class": "LGBModel",
    "module_path": "qlib.contrib.model.gbdt",
    "kwargs": {
        "loss": "mse",
        "colsample_bytree": 0.8879,
        "learning_rate": 0.1,
        "subsample": 0.8789,
        "lambda_l1": 1.0,
        "lambda_l2": 1.0,
        "max_depth": 4,
        "num_leaves": 15,
        "num_threads": 1,
        "num_boost_round": 50,
        "early_stopping_rounds": 10,
        "seed": 0,
        "deterministic": True,
    },
}
TASK = {
    "model": MODEL,
    "dataset": {
        "class": "DatasetH",
        "module_path": "qlib.data.dataset",
        "kwargs": {
            "handler": HANDLER,
            "segments": {
                "train": ["2020-03-02", "2020-12-31"],
                "valid": ["2021-01-04", "2021-04-30"],
                "test": list(TEST),
            },
        },
    },
}
PORT_ANALYSIS = {
    "executor": {
        "class": "SimulatorExecutor",
        "module_path": "qlib.backtest.executor",
        "kwargs": {"time_per_step": "day", "generate_portfolio_metrics": True},
    },
    "strategy": {
        "class": "TopkDropoutStrategy",
        "module_path": "qlib.contrib.strategy.signal_strategy",
        "kwargs": {"signal": "<PRED>", "topk": 5, "n_drop": 1},
    },
    "backtest": {
        "start_time": TEST[0],
        "end_time": TEST[1],
        "account": 100000000,
        "benchmark": BENCHMARK,
        "exchange_kwargs": {
            "freq": "day",
            "limit_threshold": 0.095,
            "deal_price": "close",
            "open_cost": 0.0005,
            "close_cost": 0.0015,
            "min_cost": 5,
        },
    },
}
RECORDS = [
    {
        "class": "SignalRecord",
        "module_path": "qlib.workflow.record_temp",
        "kwargs": {"model": "<MODEL>", "dataset": "<DATASET>"},
    },
    {
        "class": "SigAnaRecord",
        "module_path": "qlib.workflow.record_temp",
        "kwargs": {"ana_long_short": False, "ann_scaler": 252},
    },
    {"class": "PortAnaRecord", "module_path": "qlib.workflow.record_temp", "kwargs": {"config": PORT_ANALYSIS}},
]


def exp_manager_config(manager: str, uri: str) -> Dict[str, Any]:
    """The only thing that differs between the two runs of a flow."""
    if manager == "litexp":
        return {
            "class": "FileExpManager",
            "module_path": "litexp",
            "kwargs": {"uri": uri, "default_exp_name": "Experiment"},
        }
    return {
        "class": "MLflowExpManager",
        "module_path": "qlib.workflow.expm",
        "kwargs": {"uri": uri, "default_exp_name": "Experiment"},
    }


#: ``--uri``: the tracking URI of the flow (default: ``file:<work>/mlruns``).
TRACKING_URI: Optional[str] = None


def tracking_uri(work: Path) -> str:
    return TRACKING_URI or "file:" + str(work / "mlruns")


def init_qlib(manager: str, data: Path, work: Path) -> None:
    import qlib

    qlib.init(
        provider_uri=str(data), region="cn", kernels=1, exp_manager=exp_manager_config(manager, tracking_uri(work))
    )


# ------------------------------------------------------------------- summaries
#: The flow's work folder, written as ``<WORK>`` in summaries so that two runs compare equal.
WORK = ""


def unwork(text: str) -> str:
    return text.replace(WORK, "<WORK>") if WORK else text


def canonical(obj: Any) -> Any:
    """A picklable stand-in made of builtins and pandas objects, equal for equal Qlib objects."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, str):
        return unwork(obj)
    if isinstance(obj, (bytes, int, float, bool, type(None), pd.Timestamp)):
        return obj
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    booster = getattr(obj, "model", None)
    if booster is not None and hasattr(booster, "model_to_string"):
        return {"type": type(obj).__name__, "trees": booster.model_to_string()}
    return {"type": f"{type(obj).__module__}.{type(obj).__qualname__}"}


def artifact_files(rec: Any, path: Optional[str] = None) -> List[str]:
    """Every artifact file of a recorder, through the recorder's own ``list_artifacts``."""
    files: List[str] = []
    for entry in rec.list_artifacts(path) if path else rec.list_artifacts():
        children = rec.list_artifacts(entry)
        if children and children != [entry]:
            files.extend(artifact_files(rec, entry))
        else:
            files.append(entry)
    return sorted(files)


def summarize_recorder(rec: Any, load: bool = True) -> Dict[str, Any]:
    files = artifact_files(rec)
    objects = {}
    if load:
        for name in files:
            if name.endswith((".txt", ".json", ".yaml")):
                continue
            objects[name] = canonical(rec.load_object(name))
    tags = {k: v for k, v in rec.list_tags().items() if not k.startswith("mlflow.")}
    params = {k: unwork(v) for k, v in rec.list_params().items() if k != "cmd-sys.argv"}
    return {
        "id": rec.id,
        "name": rec.name,
        "status": rec.status,
        "info_class": rec.info["class"],
        "params": params,
        "metrics": rec.list_metrics(),
        "tags": tags,
        "artifacts": files,
        "objects": objects,
    }


def summarize_store() -> Dict[str, List[Dict[str, Any]]]:
    """Every active experiment (by name) with its recorders, oldest first, through Qlib's ``R``."""
    from qlib.workflow import R

    out = {}
    for name, exp in sorted(R.list_experiments().items()):
        recorders = list(exp.list_recorders(rtype=exp.RT_L))
        recorders.reverse()
        out[name] = [summarize_recorder(r) for r in recorders]
    return out


# ------------------------------------------------------------------- flows
def flow_workflow(args: argparse.Namespace) -> Dict[str, Any]:
    """examples/workflow_by_code.py, on the synthetic data."""
    init_qlib(args.manager, args.data, args.work)
    from qlib.utils import flatten_dict, init_instance_by_config
    from qlib.workflow import R
    from qlib.workflow.record_temp import PortAnaRecord, SigAnaRecord, SignalRecord

    model = init_instance_by_config(TASK["model"])
    dataset = init_instance_by_config(TASK["dataset"])
    with R.start(experiment_name="workflow"):
        R.log_params(**flatten_dict(TASK))
        model.fit(dataset)
        R.save_objects(trained_model=model)
        recorder = R.get_recorder()
        SignalRecord(model, dataset, recorder).generate()
        SigAnaRecord(recorder).generate()
        PortAnaRecord(recorder, PORT_ANALYSIS, "day").generate()
        rid = recorder.id
    rec = R.get_recorder(recorder_id=rid, experiment_name="workflow")
    loaded = {name: type(rec.load_object(name)).__name__ for name in artifact_files(rec)}
    return {"recorder_id": rid, "loaded": loaded, "store": summarize_store()}


def qrun_config(manager: str, data: Path, work: Path) -> Dict[str, Any]:
    task = copy.deepcopy(TASK)
    task["record"] = copy.deepcopy(RECORDS)
    return {
        "qlib_init": {
            "provider_uri": str(data),
            "region": "cn",
            "kernels": 1,
            "exp_manager": exp_manager_config(manager, tracking_uri(work)),
        },
        "market": "csi300",
        "benchmark": BENCHMARK,
        "task": task,
    }


def qrun_command() -> List[str]:
    script = Path(sys.executable).with_name("qrun")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from qlib.cli.run import run; run()"]


def flow_qrun(args: argparse.Namespace) -> Dict[str, Any]:
    """The ``qrun`` command on a YAML workflow whose ``qlib_init`` names the manager."""
    config = args.work / "workflow_config.yaml"
    config.write_text(
        yaml.safe_dump(qrun_config(args.manager, args.data, args.work), sort_keys=False), encoding="utf-8"
    )
    proc = subprocess.run(qrun_command() + [str(config)], cwd=args.work, capture_output=True, text=True)
    (args.work / "qrun.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"qrun failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    init_qlib(args.manager, args.data, args.work)
    return {"store": summarize_store()}


def _rolling_key(rec: Any) -> Any:
    task = rec.load_object("task")
    return task["model"]["class"], tuple(str(t) for t in task["dataset"]["kwargs"]["segments"]["test"])


def flow_rolling(args: argparse.Namespace) -> Dict[str, Any]:
    """TrainerR + RollingGen, RecorderCollector + RollingGroup, OnlineToolR, and contrib's Rolling."""
    init_qlib(args.manager, args.data, args.work)
    from qlib.contrib.rolling.base import Rolling
    from qlib.model.ens.group import RollingGroup
    from qlib.model.trainer import TrainerR
    from qlib.utils.exceptions import LoadObjectError
    from qlib.workflow import R
    from qlib.workflow.online.utils import OnlineToolR
    from qlib.workflow.recorder import Recorder
    from qlib.workflow.task.collect import RecorderCollector
    from qlib.workflow.task.gen import RollingGen, task_generator

    seen: Dict[str, Any] = {}
    exp_name = "rolling_trainer"
    task = copy.deepcopy(TASK)
    task["record"] = [{"class": "SignalRecord", "module_path": "qlib.workflow.record_temp"}]
    tasks = task_generator(task, RollingGen(step=60, rtype=RollingGen.ROLL_SD))
    seen["tasks"] = [t["dataset"]["kwargs"]["segments"]["test"] for t in tasks]
    trainer = TrainerR(experiment_name=exp_name)
    recs = trainer.train(tasks)
    seen["trained"] = [isinstance(r, Recorder) for r in recs]
    trainer.end_train(recs[0])  # one recorder, not a list
    trainer.end_train(recs[1:])
    seen["train_status"] = [r.list_tags().get(TrainerR.STATUS_KEY) for r in recs]

    def collect(experiment: Any, **kwargs: Any) -> Dict[str, Any]:
        collector = RecorderCollector(
            experiment=experiment, process_list=RollingGroup(), rec_key_func=_rolling_key, **kwargs
        )
        return {k: {str(g): v for g, v in d.items()} for k, d in collector().items()}

    by_name = collect(exp_name, artifacts_key=["pred"])
    by_object = collect(R.get_exp(experiment_name=exp_name), artifacts_key=["pred"])
    by_callable = collect(lambda: list(R.list_recorders(experiment_name=exp_name).values()), artifacts_key=["pred"])
    with_missing = collect(exp_name, artifacts_path={"pred": "pred.pkl", "missing": "no_such_artifact.pkl"})
    seen["collected"] = by_name
    seen["collect_same"] = [
        sorted(by_name) == sorted(by_object) == sorted(by_callable),
        all(
            by_name["pred"][g].equals(by_object["pred"][g]) and by_name["pred"][g].equals(by_callable["pred"][g])
            for g in by_name["pred"]
        ),
    ]
    seen["collect_missing_keys"] = sorted(with_missing)
    try:
        RecorderCollector(experiment=exp_name, artifacts_path={"missing": "no_such_artifact.pkl"}).collect(
            only_exist=False
        )
        seen["collect_missing_strict"] = None
    except LoadObjectError as exc:
        seen["collect_missing_strict"] = type(exc).__name__

    tool = OnlineToolR(exp_name)
    first = recs[0]  # its predictions stop where the second task's begin: update_online_pred extends them
    tool.reset_online_tag(first)  # one recorder, not a list: online; the others offline
    seen["online_tags"] = [tool.get_online_tag(r) for r in recs]
    seen["online_models"] = [r.id == first.id for r in tool.online_models()]
    tool.set_online_tag(OnlineToolR.ONLINE_TAG, recs[-1])  # one recorder, not a list
    seen["set_tag"] = [
        len(tool.online_models()),
        tool.get_online_tag(R.get_recorder(recorder_id=recs[-1].id, experiment_name=exp_name)),
    ]
    tool.set_online_tag(OnlineToolR.OFFLINE_TAG, [recs[-1]])
    before = first.load_object("pred.pkl")
    tool.update_online_pred()
    after = R.get_recorder(recorder_id=first.id, experiment_name=exp_name).load_object("pred.pkl")
    dates = lambda frame: str(frame.index.get_level_values("datetime").max())  # noqa: E731
    seen["online_pred"] = [dates(before), dates(after), len(before), len(after)]
    seen["online_pred_frame"] = after

    conf = args.work / "rolling_config.yaml"
    rolling_task = copy.deepcopy(TASK)
    rolling_task["record"] = copy.deepcopy(RECORDS[:2])
    conf.write_text(yaml.safe_dump({"task": rolling_task}, sort_keys=False), encoding="utf-8")
    rolling = Rolling(conf_path=conf, exp_name="rolling_final", rolling_exp="rolling_models", horizon=5, step=60)
    rolling.run()
    seen["rolling_recorder"] = rolling._rid
    return {"seen": seen, "store": summarize_store()}


FLOWS: Dict[str, Callable[[argparse.Namespace], Dict[str, Any]]] = {
    "workflow": flow_workflow,
    "qrun": flow_qrun,
    "rolling": flow_rolling,
}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=sorted(FLOWS))
    parser.add_argument("--manager", choices=["litexp", "mlflow"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--uri", default=None, help="tracking URI (default: file:WORK/mlruns)")
    args = parser.parse_args(argv)
    global TRACKING_URI
    TRACKING_URI = args.uri
    args.work = args.work.resolve()
    global WORK
    WORK = str(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    os.chdir(args.work)
    result = FLOWS[args.flow](args)
    from qlib.workflow import R

    manager = R.exp_manager
    result["manager_class"] = f"{type(manager).__module__}.{type(manager).__name__}"
    with open(args.out, "wb") as fh:
        pickle.dump(result, fh, protocol=4)


if __name__ == "__main__":
    main()
