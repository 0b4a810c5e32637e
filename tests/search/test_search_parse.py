"""Hand-written parser cases: acceptance parity with MLflow, parsed values, messages.

The cases are in ``search_cases.py``; MLflow's verdicts on them (accepted or not, and
its own parse) are the frozen ones in ``tests/data/search_corpus/parse.json``, so these
tests need no MLflow. ``test_search_corpus.py`` checks the frozen verdicts against the
installed MLflow.
"""

from __future__ import annotations

import pytest
import search_support as sup
from search_cases import CLAUSE_CASES, ORDER_ACCEPTED, ORDER_REJECTED
from search_cases import PARSE_ACCEPTED as ACCEPTED
from search_cases import PARSE_REJECTED as REJECTED

from litexp.errors import LitexpError, SearchSyntaxError
from litexp.search import needed_keys, parse_filter, parse_order_by


@pytest.mark.parametrize("filter_string", ACCEPTED)
def test_accepted_like_mlflow(filter_string):
    assert sup.frozen_accepts_filter(filter_string), "test premise: MLflow accepts it"
    parsed = parse_filter(filter_string)
    assert not parsed.extensions


@pytest.mark.parametrize("filter_string", REJECTED)
def test_rejected_like_mlflow(filter_string):
    assert not sup.frozen_accepts_filter(filter_string), "test premise: MLflow rejects it"
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(filter_string)
    assert str(info.value).startswith("at column ")
    assert isinstance(info.value, LitexpError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("filter_string", CLAUSE_CASES)
def test_clauses_equal_mlflows(filter_string):
    """Entity, key, comparator and value agree with MLflow's own parse (aliases translated)."""
    theirs = sup.frozen_clauses(filter_string)
    ours = parse_filter(filter_string).clauses
    assert len(ours) == len(theirs)
    for clause, ref in zip(ours, theirs):
        assert clause.entity == ref["type"]
        assert clause.key == ref["key"]
        assert clause.comparator == ref["comparator"]
        value = ref["value"]
        if ref["type"] == "metric":
            value = float(value)
        assert clause.value == value


def test_empty_filters_select_everything():
    for f in (None, "", "AND", " AND AND "):
        assert parse_filter(f).root is None


@pytest.mark.parametrize(
    "filter_string,message",
    [
        ("params.lr = 0.1", "at column 13: expected a quoted string after 'params.lr =', found '0.1'"),
        ("metrics.loss < '1'", "at column 16: expected a number after 'metrics.loss <'"),
        ("params.p > '1'", "at column 10: '>' is not a valid comparator for params"),
        ("metrics.x == 1", "at column 11: '==' is not a valid comparator for metrics"),
        ("status = 'A' AND foo.x = 'y'", "at column 18: unknown entity 'foo'"),
        ("experiment_id = '1'", "at column 1: unknown attribute 'experiment_id'"),
        ("metrics.a > 1 AND (metrics.b > 2", "at column 19: '(' is never closed"),
        ("metrics.a > 1)", "at column 14: ')' without a matching '('"),
        ("metrics.a > 1 -- why", "at column 15: comments are not allowed"),
        ("params.a IS NOT  NULL", "at column 13: write IS NOT NULL with exactly one space"),
        ("run_name IN ('a')", "at column 13: only run_id can be compared with a list"),
        ("run_id IN ()", "at column 11: empty list"),
        ("metrics.a > 1 OR", "at column 15: expected a condition after OR"),
        ("params.a = 'x' params.b = 'y' params.c IN ('a')", "join conditions with AND"),
        (" ", "at column 1: the filter is only whitespace"),
    ],
)
def test_error_messages(filter_string, message):
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(filter_string)
    assert message in str(info.value)


def test_type_errors_are_found_before_any_run_is_read():
    """MLflow only notices these while matching runs; litexp refuses them on an empty run list too."""
    from litexp.search import search_runs

    for f in (
        "params.p > '1'",
        "metrics.x == 1",
        "metrics.a > 5 AND params.p > '1'",
        "run_id LIKE ('a')",
        "datasets.name >= 'x'",
        "tags.t NOT LIKE 'x'",
    ):
        with pytest.raises(SearchSyntaxError):
            search_runs([], f)


def test_filter_type_is_checked():
    with pytest.raises(SearchSyntaxError):
        parse_filter(12)  # type: ignore[arg-type]


@pytest.mark.parametrize("item", ORDER_ACCEPTED)
def test_order_by_accepted_like_mlflow(item):
    assert sup.frozen_accepts_order(item), "test premise: MLflow accepts it"
    ours = parse_order_by([item]).keys[0]
    assert (ours.entity, ours.key, ours.ascending) == sup.frozen_order_key(item)


@pytest.mark.parametrize("item", ORDER_REJECTED)
def test_order_by_rejected_like_mlflow(item):
    assert not sup.frozen_accepts_order(item), "test premise: MLflow rejects it"
    with pytest.raises(SearchSyntaxError):
        parse_order_by([item])


@pytest.mark.parametrize("order_by", ["metrics.a", 5, [5], [None]])
def test_order_by_must_be_a_list_of_strings(order_by):
    with pytest.raises(SearchSyntaxError):
        parse_order_by(order_by)


def test_needed_keys():
    usage = needed_keys(
        parse_filter("metrics.a > 1 AND params.`p q` = 'x' AND tags.t IS NULL AND run_name = 'r'"),
        parse_order_by(["metrics.b DESC", "tags.u"]),
    )
    assert usage.metrics == {"a", "b"}
    assert usage.params == {"p q"}
    assert usage.tags == {"t", "u", "mlflow.runName"}
    assert usage.datasets is False
    assert needed_keys(parse_filter("datasets.name = 'x'"), None).datasets is True
    assert needed_keys(None, None).metrics == frozenset()
