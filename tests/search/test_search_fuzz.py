"""Fuzzing: whatever text comes in, the search layer raises SearchSyntaxError or succeeds.

Needs no MLflow: the one verdict of MLflow's used here (on very long filters) is the
frozen one of ``tests/data/search_corpus/parse.json``.
"""

from __future__ import annotations

import search_support as sup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_cases import long_filters

from litexp.errors import SearchSyntaxError
from litexp.records import RunRecord
from litexp.search import (
    filter_experiments,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
    parse_page_token,
    parse_view_type,
    search_runs,
)

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RECORDS = [
    RunRecord(
        "a" * 32,
        "1",
        "r",
        "u",
        "FINISHED",
        1,
        2,
        "file:///x",
        metrics={"m1": 1.0, "loss.val": float("nan")},
        params={"p1": "a"},
        tags={"t1": "b"},
    ),
    RunRecord("b" * 32, "1", "", "u", "RUNNING", 3, None, "file:///y", tags={"mlflow.runName": "s"}),
]

ALPHABET = st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc"])
SQLISH = st.text(
    alphabet=st.sampled_from(list("metrics.params`'\"()=<>!,-_% ANDORNOTISLIKEIN01.e;#*:\n\t$?@/\\")), max_size=40
)


def _only_syntax_errors(fn, *args) -> None:
    try:
        fn(*args)
    except SearchSyntaxError:
        pass


@FUZZ
@given(st.one_of(st.text(alphabet=ALPHABET, max_size=60), SQLISH, sup.token_soups()))
def test_filters_raise_only_syntax_errors(text):
    _only_syntax_errors(parse_filter, text)
    _only_syntax_errors(parse_experiment_filter, text)
    _only_syntax_errors(search_runs, RECORDS, text)


@FUZZ
@given(st.lists(st.one_of(st.text(alphabet=ALPHABET, max_size=30), SQLISH), max_size=3))
def test_order_by_raises_only_syntax_errors(items):
    _only_syntax_errors(parse_order_by, items)
    _only_syntax_errors(parse_experiment_order_by, items)
    _only_syntax_errors(search_runs, RECORDS, None, items)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40), st.integers(), st.none()))
def test_page_tokens_and_view_types_raise_only_syntax_errors(value):
    _only_syntax_errors(parse_page_token, value)
    _only_syntax_errors(parse_view_type, value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sup.filters(["a" * 32, "b" * 32]), sup.order_bys())
def test_grammar_filters_evaluate_without_crashing(filter_string, order_by):
    """Filters that parse also evaluate (on runs with missing keys, NaN, null end_time)."""
    try:
        search_runs(RECORDS, filter_string, order_by, 1)
    except SearchSyntaxError:
        pass


def test_deep_nesting_is_refused_cleanly():
    for text in (
        "(" * 5000 + "metrics.a > 1" + ")" * 5000,
        "NOT " * 5000 + "metrics.a > 1",
        "run_id IN (" + "(" * 500 + "'a'" + ")" * 500 + ")",
    ):
        _only_syntax_errors(parse_filter, text)
    _only_syntax_errors(filter_experiments, [], "(" * 3000 + "name = 'x'" + ")" * 3000)


def test_long_filters_are_refused_like_mlflow_and_fast():
    """MLflow's limits (10000 SQL tokens, 100 nested parentheses); its verdicts are the frozen ones."""
    import time

    long = long_filters()
    ok = long["ok"]  # 9997 SQL tokens
    assert len(parse_filter(ok).clauses) == 1000
    assert sup.frozen_accepts_long_filter("ok", ok)
    too_long = long["too_long"]
    assert not sup.frozen_accepts_long_filter("too_long", too_long)
    start = time.perf_counter()
    try:
        parse_filter(too_long)
        raise AssertionError("accepted")
    except SearchSyntaxError as exc:
        assert "too long" in str(exc)
    assert time.perf_counter() - start < 2
    nested = long["nested"]
    assert parse_filter(nested).clauses[0].value == ("a",)
    assert sup.frozen_accepts_long_filter("nested", nested)
    deeper = long["deeper"]
    assert not sup.frozen_accepts_long_filter("deeper", deeper)
    try:
        parse_filter(deeper)
        raise AssertionError("accepted")
    except SearchSyntaxError:
        pass
