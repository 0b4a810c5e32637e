"""``server_filter``: the part of a filter sent to an MLflow server must be MLflow's grammar and
keep every run the whole filter keeps (litexp applies the whole filter to what comes back).

Checked on the frozen superset corpus (no MLflow needed) with litexp's own matcher, which
answers as MLflow does for MLflow's grammar."""

from __future__ import annotations

import pytest
import search_support as sup
from hypothesis import HealthCheck, given, settings
from search_cases import GRAMMAR_FILTERS, SUPERSET_SPEC

from litexp.errors import SearchSyntaxError
from litexp.search import parse_filter, search_runs, server_filter

EXAMPLES = [
    ("metrics.loss < 1", "metrics.`loss` < 1.0"),
    ("params.lr = '0.1' and tags.team LIKE 'r%'", "params.`lr` = '0.1' AND tags.`team` LIKE 'r%'"),
    ("tags.team LIKE 'red' and tags.t ILIKE 'r%'", None),
    (
        "metrics.m > 1e20 and metrics.m < 1.7976931348623157e308",
        "metrics.`m` > 1e20 AND metrics.`m` < 1.7976931348623157e308",
    ),
    ("attributes.status = 'FINISHED'", "attributes.`status` = 'FINISHED'"),
    ("metrics.loss != 0.5", None),  # a NaN metric is 0 on a SQL store: != would drop it
    ("metrics.loss < 1 OR params.lr = '1'", None),
    ("metrics.loss < 1 AND (tags.team = 'red' OR params.lr = '1')", "metrics.`loss` < 1.0"),
    ("NOT tags.team = 'red'", None),
    ("params.lr IN ('0.1', '1') AND metrics.loss >= 0", "metrics.`loss` >= 0.0"),
    ("metrics.acc IS NULL AND params.opt = 'sgd'", "params.`opt` = 'sgd'"),
    ('tags.note = "it\'s"', 'tags.`note` = "it\'s"'),
    ("attributes.start_time > 5", None),
    ("", None),
]
FILTERS = [f for f, _ in EXAMPLES if f] + GRAMMAR_FILTERS


@pytest.mark.parametrize("filter_string, expected", EXAMPLES)
def test_what_is_sent(filter_string: str, expected: str) -> None:
    assert server_filter(parse_filter(filter_string)) == expected


@pytest.fixture(scope="module")
def records():
    store = sup.open_store("corpus", SUPERSET_SPEC, "superset")
    yield store.records(1)
    store.close()


def _check(records, filter_string: str) -> None:
    parsed = parse_filter(filter_string)
    sent = server_filter(parsed)
    if sent is None:
        return
    assert parse_filter(sent).extensions == frozenset(), sent
    kept = {r.run_id for r in search_runs(records, parsed)[0]}
    kept_by_server = {r.run_id for r in search_runs(records, sent)[0]}
    assert kept <= kept_by_server, (filter_string, sent)


@pytest.mark.parametrize("filter_string", FILTERS)
def test_the_sent_part_keeps_every_match(records, filter_string: str) -> None:
    _check(records, filter_string)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sup.filters())
def test_generated_filters(records, filter_string: str) -> None:
    try:
        parse_filter(filter_string)
    except SearchSyntaxError:
        return
    _check(records, filter_string)
