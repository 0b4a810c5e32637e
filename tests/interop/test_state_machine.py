"""Random sequences of litexp API calls always leave a store MLflow can open and agrees with.

A hypothesis ``RuleBasedStateMachine`` creates and deletes experiments, starts, resumes
and ends runs with every status, logs params, metrics (NaN and infinities included) and
tags, saves objects, deletes and restores runs. After every sequence MLflow's own
``MlflowClient`` (in-process) searches every experiment and run (deleted ones too), opens
each run, reads every metric history and lists every artifact, without an exception, and
what it reports equals litexp's view of the same store.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from optional_support import requires

mlflow = requires("mlflow", "MLflow's client reads the store after every step")  # noqa: F841
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from interop_support import diff_views, known_differences, litexp_view, mlflow_dump
from mlflow.tracking import MlflowClient

from litexp import ExpAlreadyExistError, FileExpManager, QlibRecorder

EXPERIMENT_NAMES = ("alpha", "beta gamma", "d/e.f")
RECORDER_NAMES = ("r1", "r 2", "r/3")
STATUSES = ("FINISHED", "FAILED", "KILLED", "SCHEDULED", "RUNNING")
PARAM_KEYS = ("lr", "model/name", "opt.x", "p q")
METRIC_KEYS = ("loss", "train/acc", "val.score", "metric with space")
TAG_KEYS = ("t", "team/x", "a.b", "tag space")
OBJECT_NAMES = ("pred", "objects/pred.pkl", "label")

metric_values = st.floats(allow_nan=True, allow_infinity=True, width=64)
steps = st.none() | st.integers(min_value=-3, max_value=6)
tag_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


class LitexpThenMlflow(RuleBasedStateMachine):
    """Drives litexp's ``R``; MLflow reads the store in ``teardown``."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="litexp-sm-"))
        self.root = self.tmp / "mlruns"
        self.R = QlibRecorder(FileExpManager("file:" + str(self.root), "Experiment"))
        self.experiments: Dict[str, str] = {}  # name -> "active" | "deleted"
        self.runs: List[Tuple[str, str]] = []  # (experiment name, run id)
        self.deleted_runs: set = set()
        self.active: Optional[str] = None  # experiment name of the running recorder

    # ------------------------------------------------------------- experiments
    @rule(name=st.sampled_from(EXPERIMENT_NAMES))
    def create_experiment(self, name: str) -> None:
        if name in self.experiments:
            try:
                self.R.exp_manager.create_exp(name)
            except ExpAlreadyExistError:
                return
            raise AssertionError(f"create_exp({name!r}) accepted a taken name")
        self.R.exp_manager.create_exp(name)
        self.experiments[name] = "active"

    @precondition(lambda self: any(s == "active" for s in self.experiments.values()))
    @rule(data=st.data())
    def delete_experiment(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, s in self.experiments.items() if s == "active")))
        self.R.delete_exp(experiment_name=name)
        self.experiments[name] = "deleted"
        if self.active == name:
            self.active = None

    # -------------------------------------------------------------------- runs
    @precondition(lambda self: self.active is None)
    @rule(name=st.sampled_from(EXPERIMENT_NAMES), recorder=st.sampled_from(RECORDER_NAMES))
    def start_run(self, name: str, recorder: str) -> None:
        if self.experiments.get(name) == "deleted":
            try:
                self.R.start_exp(experiment_name=name, recorder_name=recorder)
            except (ExpAlreadyExistError, ValueError):
                return
            raise AssertionError(f"a run started in deleted experiment {name!r}")
        self.R.start_exp(experiment_name=name, recorder_name=recorder)
        self.experiments[name] = "active"
        self.runs.append((name, self.R.get_recorder().id))
        self.active = name

    def _resumable(self) -> List[Tuple[str, str]]:
        return [
            (name, rid)
            for name, rid in self.runs
            if self.experiments[name] == "active" and rid not in self.deleted_runs
        ]

    @precondition(lambda self: self.active is None and bool(self._resumable()))
    @rule(data=st.data())
    def resume_run(self, data: st.DataObject) -> None:
        name, rid = data.draw(st.sampled_from(self._resumable()))
        self.R.start_exp(experiment_name=name, recorder_id=rid, resume=True)
        assert self.R.get_recorder().id == rid
        self.active = name

    @precondition(lambda self: self.active is not None)
    @rule(status=st.sampled_from(STATUSES))
    def end_run(self, status: str) -> None:
        self.R.end_exp(status)
        self.active = None

    @precondition(lambda self: bool(self._resumable()))
    @rule(data=st.data())
    def delete_run(self, data: st.DataObject) -> None:
        name, rid = data.draw(st.sampled_from(self._resumable()))
        self.R.get_exp(experiment_name=name, create=False).delete_recorder(recorder_id=rid)
        self.deleted_runs.add(rid)
        manager = self.R.exp_manager
        if manager.active_experiment is None or manager.active_experiment.active_recorder is None:
            self.active = None

    @precondition(lambda self: any(self.experiments[n] == "active" and r in self.deleted_runs for n, r in self.runs))
    @rule(data=st.data())
    def restore_run(self, data: st.DataObject) -> None:
        choices = [r for n, r in self.runs if self.experiments[n] == "active" and r in self.deleted_runs]
        rid = data.draw(st.sampled_from(choices))
        self.R.exp_manager.store.restore_run(rid)
        self.deleted_runs.discard(rid)

    # ----------------------------------------------------------------- logging
    @precondition(lambda self: self.active is not None)
    @rule(keys=st.lists(st.sampled_from(PARAM_KEYS), min_size=1, max_size=3, unique=True))
    def log_params(self, keys: List[str]) -> None:
        self.R.log_params(**{k: f"value of {k}" for k in keys})

    @precondition(lambda self: self.active is not None)
    @rule(values=st.dictionaries(st.sampled_from(METRIC_KEYS), metric_values, min_size=1, max_size=3), step=steps)
    def log_metrics(self, values: Dict[str, float], step: Optional[int]) -> None:
        self.R.log_metrics(step=step, **values)

    @precondition(lambda self: self.active is not None)
    @rule(values=st.dictionaries(st.sampled_from(TAG_KEYS), tag_values, min_size=1, max_size=3))
    def set_tags(self, values: Dict[str, str]) -> None:
        self.R.set_tags(**values)

    @precondition(lambda self: self.active is not None)
    @rule(name=st.sampled_from(OBJECT_NAMES), value=st.integers() | st.text(max_size=8))
    def save_objects(self, name: str, value: object) -> None:
        self.R.save_objects(**{name: value})
        assert self.R.load_object(name) == value

    @invariant()
    def active_recorder_is_known(self) -> None:
        manager = self.R.exp_manager
        running = manager.active_experiment is not None and manager.active_experiment.active_recorder is not None
        assert running == (self.active is not None)

    # ---------------------------------------------------------------- the check
    def teardown(self) -> None:
        try:
            manager = self.R.exp_manager
            if manager.active_experiment is not None and manager.active_experiment.active_recorder is not None:
                manager.active_experiment.active_recorder.flush()
            client = MlflowClient(tracking_uri=self.root.resolve().as_uri())
            seen = mlflow_dump.dump_with_client(client)
            own = litexp_view(self.root)
            problems = diff_views(seen, own, skip=known_differences(seen))
            assert problems == [], "\n".join(problems)
        finally:
            try:
                self.R.end_exp("FINISHED")
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)


LitexpThenMlflow.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLitexpThenMlflow = LitexpThenMlflow.TestCase
