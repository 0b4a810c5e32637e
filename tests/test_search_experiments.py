"""``filter_experiments`` against the real ``MlflowClient.search_experiments``."""

from __future__ import annotations

import shutil
import tempfile
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

import search_support as sup  # noqa: F401  (sets MLFLOW_ALLOW_FILE_STORE)
from litexp.errors import SearchSyntaxError
from litexp.search import filter_experiments, parse_experiment_filter, parse_experiment_order_by
from litexp.store import FileStore

EXPERIMENTS = [
    ("alpha", {"team": "red", "stage": "dev"}),
    ("beta", {"team": "blue"}),
    ("Alpha-2", {"team": "Red", "note": "it's"}),
    ("gamma_x", {}),
    ("delta", {"stage": "prod"}),
]


@pytest.fixture(scope="module")
def store():
    root = tempfile.mkdtemp(prefix="litexp-exps-")
    client = MlflowClient(tracking_uri="file:" + root)
    for name, tags in EXPERIMENTS:
        client.create_experiment(name, tags=tags)
        time.sleep(0.003)
    client.delete_experiment(client.get_experiment_by_name("delta").experiment_id)
    yield root, client
    shutil.rmtree(root, ignore_errors=True)


def _same(store, filter_string=None, order_by=None, view_type=ViewType.ALL):
    root, client = store
    want = [e.experiment_id for e in client.search_experiments(view_type=view_type, filter_string=filter_string,
                                                               order_by=order_by, max_results=1000)]
    records = FileStore(root).list_experiments(view_type)
    got = [e.experiment_id for e in filter_experiments(records, filter_string, order_by)]
    assert got == want, (filter_string, order_by)
    return got


FILTERS = [
    None, "", "name = 'alpha'", "name != 'alpha'", "name LIKE 'alpha%'", "name ILIKE 'alpha%'", "name LIKE '%_x'",
    "attribute.name = 'beta'", "tags.team = 'red'", "tag.team ILIKE 'red'", "tags.team != 'red'",
    "tags.stage IS NULL", "tags.stage IS NOT NULL", "tags.`note` = \"it's\"", "creation_time > 0",
    "creation_time < 0", "last_update_time >= 1", "name LIKE 'a%' AND tags.team = 'red'", "AND",
    "tags.team = 'red' tags.stage IS NULL", "name = \"beta\"",
]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filters_match_mlflow(store, filter_string):
    _same(store, filter_string)
    _same(store, filter_string, view_type=ViewType.ACTIVE_ONLY)


def test_experiment_id_lists(store):
    root, client = store
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    _same(store, f"experiment_id IN ('{ids[0]}', '{ids[1]}')")
    _same(store, f"experiment_id NOT IN ('{ids[0]}')")
    _same(store, f"experiment_id = '{ids[0]}'")


ORDERS = [None, [], ["name"], ["name DESC"], ["creation_time"], ["creation_time DESC"], ["last_update_time DESC"],
          ["experiment_id"], ["experiment_id DESC", "name"], ["attribute.name ASC"]]


@pytest.mark.parametrize("order_by", ORDERS)
def test_orders_match_mlflow(store, order_by):
    _same(store, None, order_by)


REJECTED = [
    "metrics.a > 1", "params.a = 'x'", "attr.name = 'x'", "attributes.name = 'x'", "run_name = 'x'",
    "name IN ('a')", "creation_time > '1'", "name > 'a'", "tags.a > 'x'", "name = x", "`tag`.a = 'x'",
    "creation_time LIKE 1", " ",
]


@pytest.mark.parametrize("filter_string", REJECTED)
def test_rejected_like_mlflow(store, filter_string):
    root, client = store
    with pytest.raises(Exception):
        client.search_experiments(view_type=ViewType.ALL, filter_string=filter_string)
    with pytest.raises(SearchSyntaxError):
        parse_experiment_filter(filter_string)


@pytest.mark.parametrize("order_by", [["tags.team"], ["run_name"], ["name DOWN"], ["metrics.a"]])
def test_rejected_orders(store, order_by):
    root, client = store
    with pytest.raises(Exception):
        client.search_experiments(view_type=ViewType.ALL, order_by=order_by)
    with pytest.raises(SearchSyntaxError):
        parse_experiment_order_by(order_by)


def test_extensions_work_for_experiments(store):
    root, _ = store
    records = FileStore(root).list_experiments(ViewType.ALL)
    found = filter_experiments(records, "name = 'alpha' OR NOT (tags.team IS NOT NULL)", ["name"])
    assert [e.name for e in found] == ["alpha", "delta", "gamma_x"]
    found = filter_experiments(records, "tags.team IN ('red', 'blue')", ["name"])
    assert [e.name for e in found] == ["alpha", "beta"]


NAMES = ["'alpha'", "'beta'", "'a%'", "'%a%'", "'Alpha%'", "'%_x'", "\"beta\""]
TAGS = ["team", "stage", "note", "missing"]


@st.composite
def exp_clauses(draw):
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"{draw(st.sampled_from(['name', 'attribute.name']))} " \
               f"{draw(st.sampled_from(['=', '!=', 'LIKE', 'ILIKE']))} {draw(st.sampled_from(NAMES))}"
    if kind == 1:
        return f"tags.{draw(st.sampled_from(TAGS))} {draw(st.sampled_from(['=', '!=', 'LIKE', 'ILIKE']))} " \
               f"{draw(st.sampled_from(['%e%', 'red', 'Red', 'dev', 'prod']))!r}"
    if kind == 2:
        return f"tags.{draw(st.sampled_from(TAGS))} IS {draw(st.sampled_from(['NULL', 'NOT NULL']))}"
    return f"{draw(st.sampled_from(['creation_time', 'last_update_time']))} " \
           f"{draw(st.sampled_from(['>', '<', '>=', '!=']))} {draw(st.sampled_from(['0', '1', '99999999999999']))}"


@settings(max_examples=60, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=list(HealthCheck))
@given(st.lists(exp_clauses(), min_size=1, max_size=3),
       st.one_of(st.none(), st.lists(st.sampled_from(["name", "name DESC", "creation_time", "experiment_id DESC",
                                                      "last_update_time"]), max_size=2)))
def test_random_experiment_queries(store, clauses, order_by):
    _same(store, " AND ".join(clauses), order_by)
