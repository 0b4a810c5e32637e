"""``filter_experiments`` against the real ``MlflowClient.search_experiments``.

Every test taking ``store`` runs twice: on the frozen experiments of
``tests/data/search_corpus/experiments.json`` with MLflow's recorded answers (no MLflow
needed) and, where MLflow is installed, on experiments MLflow writes now, read back by
litexp's ``FileStore`` and searched by the live MLflow. The cases are in ``search_cases.py``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any, List, Optional

import pytest
import search_support as sup
from hypothesis import HealthCheck, Phase, given, settings
from search_cases import (
    DELETED_EXPERIMENT,
    EXP_FILTERS,
    EXP_ORDERS,
    EXP_REJECTED,
    EXP_REJECTED_ORDERS,
    EXPERIMENTS,
    experiment_id_filters,
    query_key,
)

from litexp.errors import SearchSyntaxError
from litexp.search import filter_experiments, parse_experiment_filter, parse_experiment_order_by

ALL, ACTIVE_ONLY = 3, 1


class FrozenExperiments:
    """The corpus's experiments and MLflow's recorded answers."""

    def __init__(self) -> None:
        data = sup.corpus("experiments")
        self._records = [sup.experiment_record(e) for e in data["experiments"]]
        self._answers = {query_key(q["filter"], q["order_by"], q["view_type"]): q for q in data["queries"]}
        self.sample = [(f, o) for f, o in data["sample"]]

    def records(self, view_type: int) -> list:
        stages = {1: ("active",), 2: ("deleted",), 3: ("active", "deleted")}[view_type]
        return [r for r in self._records if r.lifecycle_stage in stages]

    def _answer(self, filter_string: Optional[str], order_by: Optional[List[str]], view_type: int) -> dict:
        key = query_key(filter_string, order_by, view_type)
        if key not in self._answers:
            pytest.fail(f"MLflow's answer to the experiment search {key} is not in the frozen corpus: {sup.REFRESH}")
        return self._answers[key]

    def mlflow_search(self, filter_string: Optional[str], order_by: Optional[List[str]], view_type: int) -> List[str]:
        answer = self._answer(filter_string, order_by, view_type)
        assert answer["accepted"], f"MLflow rejected the experiment search {filter_string!r} {order_by!r}"
        return answer["experiment_ids"]

    def mlflow_rejects(self, filter_string: Optional[str], order_by: Optional[List[str]]) -> bool:
        return not self._answer(filter_string, order_by, ALL)["accepted"]

    def close(self) -> None:
        pass


class LiveExperiments:
    """The experiments written now by MLflow's ``MlflowClient``, read back by litexp's ``FileStore``."""

    def __init__(self) -> None:
        from mlflow.tracking import MlflowClient

        self.root = tempfile.mkdtemp(prefix="litexp-exps-")
        self.client = MlflowClient(tracking_uri="file:" + self.root)
        for name, tags in EXPERIMENTS:
            self.client.create_experiment(name, tags=tags)
            time.sleep(0.003)
        self.client.delete_experiment(self.client.get_experiment_by_name(DELETED_EXPERIMENT).experiment_id)

    def records(self, view_type: int) -> list:
        from litexp.store import FileStore

        return FileStore(self.root).list_experiments(view_type)

    def mlflow_search(self, filter_string: Optional[str], order_by: Optional[List[str]], view_type: int) -> List[str]:
        return [
            e.experiment_id
            for e in self.client.search_experiments(
                view_type=view_type, filter_string=filter_string, order_by=order_by, max_results=1000
            )
        ]

    def mlflow_rejects(self, filter_string: Optional[str], order_by: Optional[List[str]]) -> bool:
        try:
            self.client.search_experiments(view_type=ALL, filter_string=filter_string, order_by=order_by)
        except Exception:
            return True
        return False

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module", params=sup.STORE_KINDS)
def store(request):
    if request.param == "live":
        sup.requires_mlflow()
    built = FrozenExperiments() if request.param == "corpus" else LiveExperiments()
    yield built
    built.close()


def _same(store: Any, filter_string=None, order_by=None, view_type=ALL):
    want = store.mlflow_search(filter_string, order_by, view_type)
    got = [e.experiment_id for e in filter_experiments(store.records(view_type), filter_string, order_by)]
    assert got == want, (filter_string, order_by)
    return got


@pytest.mark.parametrize("filter_string", EXP_FILTERS)
def test_filters_match_mlflow(store, filter_string):
    _same(store, filter_string)
    _same(store, filter_string, view_type=ACTIVE_ONLY)


def test_experiment_id_lists(store):
    ids = store.mlflow_search(None, None, ALL)
    for filter_string in experiment_id_filters(ids[0], ids[1]):
        _same(store, filter_string)


@pytest.mark.parametrize("order_by", EXP_ORDERS)
def test_orders_match_mlflow(store, order_by):
    _same(store, None, order_by)


@pytest.mark.parametrize("filter_string", EXP_REJECTED)
def test_rejected_like_mlflow(store, filter_string):
    assert store.mlflow_rejects(filter_string, None), "test premise: MLflow rejects it"
    with pytest.raises(SearchSyntaxError):
        parse_experiment_filter(filter_string)


@pytest.mark.parametrize("order_by", EXP_REJECTED_ORDERS)
def test_rejected_orders(store, order_by):
    assert store.mlflow_rejects(None, order_by), "test premise: MLflow rejects it"
    with pytest.raises(SearchSyntaxError):
        parse_experiment_order_by(order_by)


def test_extensions_work_for_experiments(store):
    records = store.records(ALL)
    found = filter_experiments(records, "name = 'alpha' OR NOT (tags.team IS NOT NULL)", ["name"])
    assert [e.name for e in found] == ["alpha", "delta", "gamma_x"]
    found = filter_experiments(records, "tags.team IN ('red', 'blue')", ["name"])
    assert [e.name for e in found] == ["alpha", "beta"]


def test_random_experiment_queries_on_the_frozen_sample():
    """The seeded sample of ``experiments.json``, drawn by the same generator as the live test."""
    store = FrozenExperiments()
    assert len(store.sample) >= 60
    for filter_string, order_by in store.sample:
        _same(store, filter_string, order_by)


@pytest.fixture(scope="module")
def live_store():
    sup.requires_mlflow()
    built = LiveExperiments()
    yield built
    built.close()


@sup.needs_mlflow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(sup.exp_queries())
def test_random_experiment_queries(live_store, query):
    filter_string, order_by = query
    _same(live_store, filter_string, order_by)
