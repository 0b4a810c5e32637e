"""Differential tests: litexp's search against MLflow on random stores.

Random small stores written with MLflow's ``MlflowClient`` (missing keys, NaN and
infinite metrics, ties in start_time, deleted runs, several experiments, datasets),
and filters and order_by lists drawn from MLflow's grammar, valid and invalid
(``search_cases.py`` holds the generators). For each query:

* MLflow accepts it (for any store)  -> litexp accepts it without extensions
  and returns the same run ids in the same order, and the same page token;
* MLflow rejects it                  -> litexp rejects it with
  SearchSyntaxError, or accepts it only as a documented extension.

``test_differential_on_the_frozen_sample`` checks a seeded sample of such stores and
queries against MLflow's answers recorded in ``tests/data/search_corpus/random_runs.json``
(no MLflow needed); ``test_differential_against_mlflow`` draws its own with Hypothesis
and asks the installed MLflow (skipped without MLflow).
"""

from __future__ import annotations

import os
from typing import Any, List, Optional

import search_support as sup
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from search_cases import MAX_RESULTS, VIEW_TYPES

from litexp.errors import SearchSyntaxError
from litexp.search import parse_filter, parse_order_by

STORES = 70
QUERIES_PER_STORE = 32
SOUPS_PER_STORE = 4


def _litexp_verdict(filter_string: Optional[str]) -> Any:
    try:
        return parse_filter(filter_string)
    except SearchSyntaxError:
        return None


def _litexp_order_ok(order_by: Optional[List[str]]) -> bool:
    try:
        parse_order_by(order_by)
        return True
    except SearchSyntaxError:
        return False


def _check_query(
    store: Any,
    filter_string: Optional[str],
    order_by: Optional[List[str]],
    view_type: int,
    max_results: Optional[int],
    counts: dict,
    ml_ok: bool,
    ml_order_ok: bool,
) -> None:
    """litexp against MLflow's verdicts (``ml_ok``, ``ml_order_ok``) and answers (``store.mlflow_search``)."""
    counts["cases"] += 1
    parsed = _litexp_verdict(filter_string)
    if ml_ok:
        assert parsed is not None, f"MLflow accepts {filter_string!r}, litexp rejects it"
        assert not parsed.extensions, f"{filter_string!r} flagged as extension {parsed.extensions}"
    else:
        assert parsed is None or parsed.extensions, f"MLflow rejects {filter_string!r}, litexp accepts it"
        counts["rejected"] += 1
    assert ml_order_ok == _litexp_order_ok(order_by), f"order_by {order_by!r}: MLflow accepts={ml_order_ok}"
    if not (ml_ok and ml_order_ok):
        return
    want = sup.mlflow_search(store, filter_string, order_by, view_type, max_results)
    got = sup.litexp_search(store, filter_string, order_by, view_type, max_results)
    assert got == want, f"filter={filter_string!r} order_by={order_by!r} view={view_type} max={max_results}"
    counts["compared"] += 1
    if want[1] is not None:
        want2 = sup.mlflow_search(store, filter_string, order_by, view_type, max_results, page_token=want[1])
        got2 = sup.litexp_search(store, filter_string, order_by, view_type, max_results, page_token=got[1])
        assert got2 == want2, f"second page: filter={filter_string!r} order_by={order_by!r}"


def _check_counts(counts: dict) -> None:
    print("differential cases:", counts)
    assert counts["cases"] >= 2000, counts
    assert counts["compared"] >= 1000, counts
    assert counts["rejected"] >= 100, counts


def test_differential_on_the_frozen_sample() -> None:
    counts = {"cases": 0, "compared": 0, "rejected": 0}
    for data in sup.corpus("random_runs")["differential"]:
        store = sup.CorpusStore(data)
        for case in data["cases"]:
            _check_query(
                store,
                case["filter"],
                case["order_by"],
                case["view_type"],
                case["max_results"],
                counts,
                case["filter_ok"],
                case["order_ok"],
            )
    _check_counts(counts)


def _check_live_query(
    store: sup.LiveStore,
    filter_string: Optional[str],
    order_by: Optional[List[str]],
    view_type: int,
    max_results: Optional[int],
    counts: dict,
) -> None:
    _check_query(
        store,
        filter_string,
        order_by,
        view_type,
        max_results,
        counts,
        sup.mlflow_accepts_filter(filter_string),
        sup.mlflow_accepts_order(order_by),
    )


@sup.needs_mlflow
def test_differential_against_mlflow() -> None:
    counts = {"cases": 0, "compared": 0, "rejected": 0}

    # LITEXP_SEARCH_RANDOM=1 draws new cases instead of the fixed, reproducible ones
    @settings(
        max_examples=STORES,
        deadline=None,
        derandomize=os.environ.get("LITEXP_SEARCH_RANDOM") is None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=sup.store_specs(), data=st.data())
    def run(spec: sup.StoreSpec, data: Any) -> None:
        store = sup.build_store(spec)
        try:
            for _ in range(QUERIES_PER_STORE):
                filter_string = data.draw(sup.filters(store.run_ids))
                order_by = data.draw(sup.order_bys())
                view_type = data.draw(st.sampled_from(VIEW_TYPES))
                max_results = data.draw(st.sampled_from(MAX_RESULTS))
                _check_live_query(store, filter_string, order_by, view_type, max_results, counts)
            for _ in range(SOUPS_PER_STORE):
                _check_live_query(store, data.draw(sup.token_soups()), None, 3, None, counts)
        finally:
            store.close()

    run()
    _check_counts(counts)
