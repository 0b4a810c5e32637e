"""Hand-written matching, ordering and paging cases on one store, checked against MLflow.

Every test taking ``store`` runs twice: on the frozen run set of
``tests/data/search_corpus/runs.json`` (MLflow's recorded answers; no MLflow needed)
and, where MLflow is installed, on a store written now by ``MlflowClient`` and read by
litexp's ``FileStore`` (MLflow's answers asked live). The cases are in ``search_cases.py``.
"""

from __future__ import annotations

import base64
import json
from typing import List, Optional

import pytest
import search_support as sup
from search_cases import (
    MATCH_CASES,
    MATCH_SPEC,
    MAX_PAGES,
    PAGING_FILTER,
    PAGING_ORDER,
    PAGING_SIZES,
    VIEW_FILTER,
    run_id_filters,
)
from search_cases import MATCH_ORDERS as ORDER_CASES

from litexp.errors import InvalidInputError, SearchSyntaxError
from litexp.search import make_page_token, parse_page_token, parse_view_type, search_runs


@pytest.fixture(scope="module", params=sup.STORE_KINDS)
def store(request):
    built = sup.open_store(request.param, MATCH_SPEC, "match")
    yield built
    built.close()


def names(store, run_ids: List[str]) -> List[str]:
    by_id = {r.run_id: r.run_name for r in store.records()}
    return [by_id[i] if by_id[i].startswith("r_") else "auto" for i in run_ids]


def same(
    store, filter_string: Optional[str], order_by=None, view_type: int = 3, max_results=None, page_token=None
) -> List[str]:
    """Assert litexp == MLflow and return the run names found."""
    want = sup.mlflow_search(store, filter_string, order_by, view_type, max_results, page_token)
    got = sup.litexp_search(store, filter_string, order_by, view_type, max_results, page_token)
    assert got == want
    return names(store, got[0])


@pytest.mark.parametrize("filter_string,expected", MATCH_CASES)
def test_filter_matches_mlflow(store, filter_string, expected):
    # the order is checked against MLflow; runs with equal start_time tie on random run ids
    assert sorted(same(store, filter_string)) == sorted(expected)


def test_run_id_lists(store):
    ids = {n: i for i, n in zip([r.run_id for r in store.records()], names(store, [r.run_id for r in store.records()]))}
    filters = run_id_filters(ids["r_a"], ids["r_b"])
    assert same(store, filters["in_both"]) == ["r_b", "r_a"]
    assert sorted(same(store, filters["not_in_a"])) == ["auto", "r_b", "r_c", "r_d", "r_e", "r_f"]
    assert same(store, filters["equals_a"]) == ["r_a"]
    assert same(store, filters["equals_list_a"]) == []
    assert len(same(store, filters["not_equals_list_a"])) == 7


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


@pytest.mark.parametrize("max_results", PAGING_SIZES)
def test_paging_matches_mlflow(store, max_results):
    token = None
    pages = 0
    while True:
        want = sup.mlflow_search(store, PAGING_FILTER, PAGING_ORDER, 3, max_results, token)
        got = sup.litexp_search(store, PAGING_FILTER, PAGING_ORDER, 3, max_results, token)
        assert got == want
        token = got[1]
        pages += 1
        if token is None or max_results == 0 or pages >= MAX_PAGES:
            break


def test_page_tokens_are_mlflows():
    token = make_page_token(3)
    assert json.loads(base64.b64decode(token)) == {"offset": 3}
    assert parse_page_token(token) == 3
    assert parse_page_token(token.encode()) == 3
    assert parse_page_token(None) == 0
    assert parse_page_token("") == 0


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "bm90IGpzb24=",
        base64.b64encode(b'{"offset": 0}').decode(),
        base64.b64encode(b'{"x": 1}').decode(),
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b'{"offset": "a"}').decode(),
        base64.b64encode(b'{"offset": -2}').decode(),
        12,
    ],
)
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
    from litexp.records import RunRecord

    return [RunRecord(f"{i:032x}", "1", f"r{i}", "u", "FINISHED", 1000 + i, None, "file:///x") for i in range(n)]


@pytest.mark.parametrize("view_type", [1, 2, 3])
def test_view_types_match_mlflow(store, view_type):
    same(store, VIEW_FILTER, None, view_type)


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, 1),
        (1, 1),
        (2, 2),
        (3, 3),
        ("ACTIVE_ONLY", 1),
        ("deleted_only", 2),
        ("All", 3),
        ("all", 3),
        ("2", 2),
    ],
)
def test_parse_view_type(value, expected):
    assert parse_view_type(value) == expected


@pytest.mark.parametrize("value", [0, 4, -1, True, "active", "", 1.0, [1]])
def test_parse_view_type_rejects(value):
    with pytest.raises(SearchSyntaxError):
        parse_view_type(value)


def test_run_name_falls_back_to_the_run_name_tag():
    from litexp.records import RunRecord

    rec = RunRecord("a" * 32, "1", "", "u", "RUNNING", 1, None, "x", tags={"mlflow.runName": "from-tag"})
    assert search_runs([rec], "run_name = 'from-tag'")[0] == [rec]
    assert search_runs([rec], "attributes.`run name` LIKE 'from%'")[0] == [rec]
