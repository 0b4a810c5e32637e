"""The litexp extensions: OR, NOT, parentheses, IS NULL on metrics/attributes, IN on params/tags.

Results are checked against MLflow itself: ``A OR B`` must select the union
of what MLflow selects for ``A`` and for ``B``, ``NOT A`` the complement,
and so on. Filters in MLflow's grammar keep MLflow's meaning.

MLflow's selections come from the frozen corpus (``runs.json`` and a seeded sample of
random stores in ``random_runs.json``; no MLflow needed) and, where MLflow is
installed, also from the live MLflow on stores it writes now.
"""

from __future__ import annotations

from typing import List, Set

import pytest
import search_support as sup
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from search_cases import (
    ALGEBRA_ROUNDS,
    GRAMMAR_FILTERS,
    IN_PARAM_KEYS,
    NULL_METRIC_KEYS,
    PRECEDENCE_ATOMS,
    SUPERSET_SPEC,
)

from litexp.errors import SearchSyntaxError
from litexp.search import parse_filter, search_runs


@pytest.fixture(scope="module", params=sup.STORE_KINDS)
def store(request):
    built = sup.open_store(request.param, SUPERSET_SPEC, "superset")
    yield built
    built.close()


def names(store, filter_string, order_by=None) -> List[str]:
    found, _ = search_runs(store.records(1), filter_string, order_by)
    return [r.run_name for r in found]


def ml_ids(store, filter_string) -> Set[str]:
    return set(sup.mlflow_search(store, filter_string)[0])


def lit_ids(store, filter_string) -> Set[str]:
    return set(sup.litexp_search(store, filter_string)[0])


DOC_EXAMPLES = [
    ("metrics.loss < 1 OR params.opt = 'sgd'", ["c", "a"]),
    ("metrics.loss < 1 AND tags.team = 'red' OR params.lr = '1'", ["d", "a"]),
    ("metrics.loss < 1 AND (tags.team = 'red' OR params.lr = '1')", ["a"]),
    ("NOT tags.team = 'red'", ["c", "b"]),
    ("NOT (metrics.loss < 1 OR metrics.loss > 1)", ["d", "b"]),
    ("metrics.loss != 0.5 AND NOT metrics.loss = 1.5", ["b"]),
    ("metrics.acc IS NULL", ["d", "b", "a"]),
    ("metrics.acc IS NOT NULL", ["c"]),
    ("end_time IS NULL", ["c"]),
    ("attributes.end_time IS NOT NULL", ["d", "b", "a"]),
    ("params.lr IN ('0.1', '1')", ["d", "a"]),
    ("params.lr NOT IN ('0.1', '1')", ["b"]),
    ("tags.team IN ('red')", ["d", "a"]),
    ("NOT params.lr IN ('0.1')", ["d", "c", "b"]),
    ("(status = 'FINISHED')", ["a"]),
    ("((status = 'FINISHED') OR (status = 'FAILED'))", ["b", "a"]),
    ("NOT(status = 'RUNNING')", ["d", "b", "a"]),
    ("status = 'KILLED' or status = 'FAILED'", ["d", "b"]),
]


@pytest.mark.parametrize("filter_string,expected", DOC_EXAMPLES)
def test_documented_examples(store, filter_string, expected):
    assert names(store, filter_string) == expected
    assert parse_filter(filter_string).extensions


def test_and_binds_tighter_than_or(store):
    a, b, c = PRECEDENCE_ATOMS
    assert lit_ids(store, f"{a} AND {b} OR {c}") == (ml_ids(store, f"{a} AND {b}") | ml_ids(store, c))
    assert lit_ids(store, f"{c} OR {a} AND {b}") == (ml_ids(store, f"{a} AND {b}") | ml_ids(store, c))


def test_extensions_keep_mlflow_grammar_results(store):
    """An MLflow filter means the same wrapped in parentheses, or doubly negated."""
    for f in GRAMMAR_FILTERS:
        assert lit_ids(store, f"({f})") == ml_ids(store, f)
        assert lit_ids(store, f"NOT NOT ({f})") == ml_ids(store, f)


@pytest.mark.parametrize(
    "filter_string",
    [
        "metrics.loss < 1 OR",
        "OR metrics.loss < 1",
        "()",
        "NOT",
        "metrics.loss < 1 AND NOT",
        "(metrics.loss < 1",
        "metrics.a IN ('1')",
        "datasets.name IS NULL",
        "status IN ('FINISHED')",
        "NOT IN ('a')",
        "params.a NOT = 'x'",
        "params.a NOT LIKE 'x'",
        "(params.a = 'x') OR",
        "metrics.a > 1 OR OR metrics.b > 1",
    ],
)
def test_extension_errors(filter_string):
    with pytest.raises(SearchSyntaxError):
        parse_filter(filter_string)


def _check_algebra(store, rounds) -> None:
    """litexp's OR, NOT and parentheses combine MLflow's selections for each clause as sets do."""
    every = set(sup.mlflow_search(store, None)[0])
    for a, b, c in rounds:
        sa, sb, sc = ml_ids(store, a), ml_ids(store, b), ml_ids(store, c)
        assert lit_ids(store, f"{a} OR {b}") == sa | sb
        assert lit_ids(store, f"NOT ({a})") == every - sa
        assert lit_ids(store, f"({a} OR {b}) AND {c}") == (sa | sb) & sc
        assert lit_ids(store, f"{a} AND {b} OR {c}") == (sa & sb) | sc
        assert lit_ids(store, f"NOT ({a} AND {b})") == every - (sa & sb)
        assert lit_ids(store, f"{a} AND {b}") == ml_ids(store, f"{a} AND {b}")
    records = {r.run_id: r for r in store.records(1)}
    for key in NULL_METRIC_KEYS:
        lacking = {i for i, r in records.items() if key not in r.metrics}
        assert lit_ids(store, f"metrics.`{key}` IS NULL") == lacking
    for key in IN_PARAM_KEYS:
        want = {i for i, r in records.items() if r.params.get(key) in ("a", "1")}
        assert lit_ids(store, f"params.{key} IN ('a', '1')") == want
        assert lit_ids(store, f"params.{key} IN ('a', '1')") == (
            ml_ids(store, f"params.{key} = 'a'") | ml_ids(store, f"params.{key} = '1'")
        )


def test_boolean_algebra_on_the_frozen_sample():
    """The seeded sample of random stores and MLflow-accepted clauses in ``random_runs.json``."""
    sample = sup.corpus("random_runs")["algebra"]
    assert len(sample) >= 15
    for data in sample:
        store = sup.CorpusStore(data)
        for atom in (atom for round_ in data["rounds"] for atom in round_):
            assert parse_filter(atom).root is not None and not parse_filter(atom).extensions, atom
        _check_algebra(store, data["rounds"])


@st.composite
def mlflow_atoms(draw, run_ids):
    """A clause the installed MLflow accepts."""
    while True:
        clause = draw(sup.clauses(run_ids))
        if sup.mlflow_accepts_filter(clause) and parse_filter(clause).root is not None:
            return clause


@sup.needs_mlflow
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(spec=sup.store_specs(max_runs=7), data=st.data())
def test_boolean_algebra_against_mlflow(spec, data):
    store = sup.build_store(spec)
    try:
        rounds = []
        for _ in range(ALGEBRA_ROUNDS):
            rounds.append([data.draw(mlflow_atoms(store.run_ids)) for _ in range(3)])
        _check_algebra(store, rounds)
    finally:
        store.close()
