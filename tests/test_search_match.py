"""Hand-written matching, ordering and paging cases on one store, checked against real MLflow."""

from __future__ import annotations

import base64
import json
from typing import List, Optional

import pytest

import search_support as sup
from litexp.errors import InvalidInputError, SearchSyntaxError
from litexp.search import make_page_token, parse_page_token, parse_view_type, search_runs
from search_support import INF, NAN, RunSpec, StoreSpec

SPEC = StoreSpec(2, [
    RunSpec(0, 1000, "r_a", {"loss": [(0.5, 1, 0)], "acc": [(0.9, 1, 0)]}, {"lr": "0.1", "opt": "adam"},
            {"team": "red"}, end=("FINISHED", 2000)),
    RunSpec(0, 1001, "r_b", {"loss": [(NAN, 1, 0)]}, {"lr": "0.01", "opt": "Adam"}, {"team": "Blue"},
            end=("FAILED", 2100)),
    RunSpec(0, 1001, "r_c", {"loss": [(1.5, 1, 0)], "f1 score": [(0.7, 1, 0)], "loss.val": [(0.3, 1, 0)]},
            {"lr": "0.1"}, {}),
    RunSpec(0, 1002, "r_d", {}, {"opt": "sgd_x"}, {"team": "red", "note": "it's"}, dataset=("ds", "abc", "train"),
            end=("KILLED", 2200)),
    RunSpec(0, 999, "r_e", {"loss": [(INF, 1, 0)], "acc": [(-INF, 1, 0)]}, {"opt.name": "a%b"}, {"team": "x_y"},
            end=("FINISHED", 1500), deleted=True),
    RunSpec(1, 1003, "r_f", {"loss": [(0.25, 1, 0)]}, {"lr": "1"}, {"team": "red\n"}, dataset=("ds2", "d1", None)),
    RunSpec(1, 1001, None, {"loss": [(2.0, 5, 0), (0.1, 1, 1)]}, {}, {"team": "RED"}),
])


@pytest.fixture(scope="module")
def store():
    built = sup.build_store(SPEC)
    yield built
    built.close()


def names(store: sup.BuiltStore, run_ids: List[str]) -> List[str]:
    by_id = {r.run_id: r.run_name for r in store.records()}
    return [by_id[i] if by_id[i].startswith("r_") else "auto" for i in run_ids]


def same(store, filter_string: Optional[str], order_by=None, view_type: int = 3, max_results=None,
         page_token=None) -> List[str]:
    """Assert litexp == MLflow and return the run names found."""
    want = sup.mlflow_search(store, filter_string, order_by, view_type, max_results, page_token)
    got = sup.litexp_search(store, filter_string, order_by, view_type, max_results, page_token)
    assert got == want
    return names(store, got[0])


MATCH_CASES = [
    # metrics: latest value, missing key fails every comparator, NaN follows Python
    ("metrics.loss < 1", ["r_f", "auto", "r_a"]),
    ("metrics.loss != 0.5", ["r_f", "r_b", "r_c", "auto", "r_e"]),
    ("metrics.loss = 0.5", ["r_a"]),
    ("metrics.loss > 100", ["r_e"]),
    ("metrics.acc < -1e308", ["r_e"]),
    ("metric.`f1 score` >= .7", ["r_c"]),
    ('metrics."f1 score" > 0', ["r_c"]),
    ("metrics.loss.val = 0.3", ["r_c"]),
    ("metrics.missing != 1", []),
    # params and tags: strings, LIKE anchored and case-sensitive, ILIKE not, no escape
    ("params.lr = '0.1'", ["r_c", "r_a"]),
    ("params.lr != '0.1'", ["r_f", "r_b"]),
    ("params.opt LIKE 'a%'", ["r_a"]),
    ("params.opt ILIKE 'a%'", ["r_b", "r_a"]),
    ("params.opt LIKE '%x'", ["r_d"]),
    ("params.opt LIKE 'sgd_x'", ["r_d"]),
    ("params.opt LIKE 'sgd\\_x'", []),
    ("params.`opt.name` LIKE 'a%'", ["r_e"]),
    ("params.\"opt.name\" = 'a%b'", ["r_e"]),
    ("tags.team = 'red'", ["r_d", "r_a"]),
    ("tags.team LIKE 'red'", ["r_f", "r_d", "r_a"]),
    ("tags.team ILIKE 'red'", ["r_f", "r_d", "auto", "r_a"]),
    ("tags.team LIKE 'x_y'", ["r_e"]),
    ("tags.note = 'it''s'", []),
    ("tags.note = \"it's\"", ["r_d"]),
    ("tags.team != 'red'", ["r_f", "r_b", "auto", "r_e"]),
    ("tags.team IS NULL", ["r_c"]),
    ("params.opt IS NOT NULL", ["r_d", "r_b", "r_a"]),
    ("tags.mlflow.runName = 'r_a'", ["r_a"]),
    ("tags.`mlflow.runName` LIKE 'r\\_%'", []),
    # attributes
    ("status = 'FINISHED'", ["r_a", "r_e"]),
    ("status = 'finished'", []),
    ("attributes.status != 'RUNNING'", ["r_d", "r_b", "r_a", "r_e"]),
    ("run_name = 'r_b'", ["r_b"]),
    ("`run name` LIKE 'r\\_%'", []),
    ("\"Run Name\" ILIKE 'R_%'", ["r_f", "r_d", "r_b", "r_c", "r_a", "r_e"]),
    ("attr.run_name LIKE '%_c'", ["r_c"]),
    ("end_time > 2000", ["r_d", "r_b"]),
    ("end_time != 0", ["r_d", "r_b", "r_a", "r_e"]),
    ("created >= 1001", ["r_f", "r_d", "r_b", "r_c", "auto"]),
    ("Created < 1000.5", ["r_a", "r_e"]),
    ("start_time = 1e3", ["r_a"]),
    ("run.user_id LIKE '%'", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("artifact_uri LIKE '%artifacts'", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    # datasets
    ("datasets.name = 'ds'", ["r_d"]),
    ("datasets.name LIKE 'ds%'", ["r_f", "r_d"]),
    ("datasets.context = 'train'", ["r_d"]),
    ("datasets.context != 'train'", []),
    ("dataset.digest IN ('abc', 'd1')", ["r_f", "r_d"]),
    ("datasets.name NOT IN ('ds')", ["r_f"]),
    # several clauses, MLflow's lenient AND
    ("metrics.loss < 1 AND params.lr = '0.1'", ["r_a"]),
    ("metrics.loss < 1 and tags.team = 'red' AND", ["r_a"]),
    ("AND AND metrics.loss < 1 metrics.loss > 0.3", ["r_a"]),
    ("tags.team = 'red' tags.note IS NULL", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("AND", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
    ("", ["r_f", "r_d", "r_b", "r_c", "auto", "r_a", "r_e"]),
]


@pytest.mark.parametrize("filter_string,expected", MATCH_CASES)
def test_filter_matches_mlflow(store, filter_string, expected):
    # the order is checked against MLflow; runs with equal start_time tie on random run ids
    assert sorted(same(store, filter_string)) == sorted(expected)


def test_run_id_lists(store):
    ids = {n: i for i, n in zip([r.run_id for r in store.records()], names(store, [r.run_id for r in store.records()]))}
    a, b = ids["r_a"], ids["r_b"]
    assert same(store, f"run_id IN ('{a}', \"{b}\")") == ["r_b", "r_a"]
    assert sorted(same(store, f"attributes.run_id NOT IN ('{a}')")) == ["auto", "r_b", "r_c", "r_d", "r_e", "r_f"]
    assert same(store, f"run_id = '{a}'") == ["r_a"]
    assert same(store, f"run_id = ('{a}')") == []
    assert len(same(store, f"run_id != ('{a}')")) == 7


ORDER_CASES = [
    None,
    [],
    ["metrics.loss"],
    ["metrics.loss DESC"],
    ["metrics.loss ASC", "params.lr DESC"],
    ["params.lr"],
    ["params.lr DESC", "tags.team"],
    ["tags.team desc"],
    ["start_time"],
    ["created DESC"],
    ["end_time"],
    ["end_time DESC"],
    ["run_name"],
    ["status DESC", "metrics.acc"],
    ["metrics.acc DESC"],
    ["metrics.`f1 score` DESC"],
    ["tags.`mlflow.runName` DESC"],
    ["attributes.run_id DESC"],
    ["metrics.missing"],
    ['metrics.loss "DESC"'],
]


@pytest.mark.parametrize("order_by", ORDER_CASES)
def test_order_matches_mlflow(store, order_by):
    same(store, None, order_by)


def test_nan_and_missing_sort_last_both_ways(store):
    assert same(store, None, ["metrics.loss"]) == ["auto", "r_f", "r_a", "r_c", "r_e", "r_b", "r_d"]
    assert same(store, None, ["metrics.loss DESC"]) == ["r_e", "r_c", "r_a", "r_f", "auto", "r_b", "r_d"]


def test_default_order_is_start_time_desc_then_run_id(store):
    records = store.records()
    found, _ = search_runs(records)
    keys = [(-r.start_time, r.run_id) for r in found]
    assert keys == sorted(keys)
    same(store, None)


@pytest.mark.parametrize("max_results", [0, 1, 2, 3, 6, 7, 50])
def test_paging_matches_mlflow(store, max_results):
    token = None
    pages = 0
    while True:
        want = sup.mlflow_search(store, "metrics.loss > -1000 AND status != 'x'", ["metrics.loss"], 3,
                                 max_results, token)
        got = sup.litexp_search(store, "metrics.loss > -1000 AND status != 'x'", ["metrics.loss"], 3,
                                max_results, token)
        assert got == want
        token = got[1]
        pages += 1
        if token is None or max_results == 0 or pages > 10:
            break


def test_page_tokens_are_mlflows():
    token = make_page_token(3)
    assert json.loads(base64.b64decode(token)) == {"offset": 3}
    assert parse_page_token(token) == 3
    assert parse_page_token(token.encode()) == 3
    assert parse_page_token(None) == 0
    assert parse_page_token("") == 0


@pytest.mark.parametrize("token", ["!!!", "bm90IGpzb24=", base64.b64encode(b'{"offset": 0}').decode(),
                                   base64.b64encode(b'{"x": 1}').decode(), base64.b64encode(b"[1]").decode(),
                                   base64.b64encode(b'{"offset": "a"}').decode(),
                                   base64.b64encode(b'{"offset": -2}').decode(), 12])
def test_bad_page_tokens(token):
    with pytest.raises(SearchSyntaxError):
        search_runs([], page_token=token)


def test_max_results_none_returns_everything_and_numbers_are_exact():
    records = sup_records(2500)
    found, token = search_runs(records)
    assert len(found) == 2500 and token is None
    found, token = search_runs(records, max_results=2000)
    assert len(found) == 2000 and parse_page_token(token) == 2000
    found, token = search_runs(records, max_results=2000, page_token=token)
    assert len(found) == 500 and token is None
    with pytest.raises(InvalidInputError):
        search_runs(records, max_results=-1)


def sup_records(n: int):
    from litexp.store.records import RunRecord

    return [RunRecord(f"{i:032x}", "1", f"r{i}", "u", "FINISHED", 1000 + i, None, "file:///x") for i in range(n)]


@pytest.mark.parametrize("view_type", [1, 2, 3])
def test_view_types_match_mlflow(store, view_type):
    same(store, "metrics.loss > 0", None, view_type)


@pytest.mark.parametrize("value,expected", [
    (None, 1), (1, 1), (2, 2), (3, 3), ("ACTIVE_ONLY", 1), ("deleted_only", 2), ("All", 3), ("all", 3), ("2", 2),
])
def test_parse_view_type(value, expected):
    assert parse_view_type(value) == expected


@pytest.mark.parametrize("value", [0, 4, -1, True, "active", "", 1.0, [1]])
def test_parse_view_type_rejects(value):
    with pytest.raises(SearchSyntaxError):
        parse_view_type(value)


def test_run_name_falls_back_to_the_run_name_tag():
    from litexp.store.records import RunRecord

    rec = RunRecord("a" * 32, "1", "", "u", "RUNNING", 1, None, "x", tags={"mlflow.runName": "from-tag"})
    assert search_runs([rec], "run_name = 'from-tag'")[0] == [rec]
    assert search_runs([rec], "attributes.`run name` LIKE 'from%'")[0] == [rec]
