"""``runs_to_frame`` against the DataFrame of the real ``mlflow.search_runs``.

These comparisons need MLflow itself (they skip without it, with the reason): the
DataFrame's column order follows Python's set iteration order, which changes from
one process to the next, so a frame cannot be frozen in the search corpus.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Optional

import pandas as pd
import pandas.testing as pdt
import search_support as sup
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from search_support import INF, NAN, RunSpec, StoreSpec

from litexp.search import FIXED_COLUMNS, runs_to_frame, search_runs


def _mlflow_frame(store: sup.BuiltStore, filter_string: Optional[str], order_by, view_type: int) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri("file:" + store.root)
    try:
        return mlflow.search_runs(
            experiment_ids=store.exp_ids, filter_string=filter_string or "", run_view_type=view_type, order_by=order_by
        )
    finally:
        mlflow.set_tracking_uri(None)


def _litexp_frame(store: sup.BuiltStore, filter_string: Optional[str], order_by, view_type: int) -> pd.DataFrame:
    found, _ = search_runs(store.records(view_type), filter_string, order_by)
    return runs_to_frame(found)


def assert_same_frame(store, filter_string=None, order_by=None, view_type=1) -> pd.DataFrame:
    want = _mlflow_frame(store, filter_string, order_by, view_type)
    got = _litexp_frame(store, filter_string, order_by, view_type)
    # the same columns by name; litexp's order is stable (each group sorted), MLflow's follows
    # set iteration and varies between processes
    assert sorted(got.columns) == sorted(want.columns)
    assert list(got.columns) == stable_order(want.columns)
    want = want[list(got.columns)]
    assert list(got.dtypes) == list(want.dtypes)
    pdt.assert_frame_equal(got, want)
    return got


def stable_order(columns) -> list:
    """The fixed columns, then metrics, params and tags, each sorted by key."""
    columns = list(columns)
    groups = [sorted(c for c in columns if c.startswith(prefix)) for prefix in ("metrics.", "params.", "tags.")]
    return [c for c in columns if "." not in c] + [c for group in groups for c in group]


SPEC = StoreSpec(
    2,
    [
        RunSpec(
            0,
            1000,
            "a",
            {"loss": [(0.5, 1, 0)], "acc": [(NAN, 1, 0)]},
            {"lr": "0.1"},
            {"team": "red"},
            end=("FINISHED", 2000),
        ),
        RunSpec(0, 1001, "b", {"loss": [(INF, 1, 0)]}, {"opt": "adam"}, {}),
        RunSpec(1, 1002, "c", {}, {"lr": "1", "opt": "sgd"}, {"note": "x"}, end=("KILLED", 3000), deleted=True),
    ],
)


@sup.needs_mlflow
def test_frame_equals_mlflows():
    store = sup.build_store(SPEC)
    try:
        frame = assert_same_frame(store)
        assert list(frame.columns[:6]) == list(FIXED_COLUMNS)
        assert str(frame["start_time"].dtype).startswith("datetime64") and "UTC" in str(frame["start_time"].dtype)
        assert frame["end_time"].isna().sum() == 1
        assert_same_frame(store, view_type=3)
        assert_same_frame(store, "metrics.loss > 0", ["metrics.loss DESC"], 3)
        assert_same_frame(store, "params.lr = '1'", None, 3)
    finally:
        store.close()


@sup.needs_mlflow
def test_empty_result_frame():
    store = sup.build_store(SPEC)
    try:
        frame = assert_same_frame(store, "metrics.loss > 1e308 AND metrics.loss < 0")
        assert list(frame.columns) == list(FIXED_COLUMNS)
        assert len(frame) == 0
    finally:
        store.close()


@sup.needs_mlflow
def test_all_running_runs_have_null_end_times():
    store = sup.build_store(StoreSpec(1, [RunSpec(0, 5, "x", {"m": [(1.0, 1, 0)]}), RunSpec(0, 6, "y")]))
    try:
        assert_same_frame(store)
    finally:
        store.close()


@sup.needs_mlflow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@given(spec=sup.store_specs(max_runs=6), data=st.data())
def test_random_frames_equal_mlflows(spec, data):
    store = sup.build_store(spec)
    try:
        for _ in range(3):
            filter_string = data.draw(sup.filters(store.run_ids))
            order_by = data.draw(sup.order_bys())
            if not (sup.mlflow_accepts_filter(filter_string) and sup.mlflow_accepts_order(order_by)):
                continue
            assert_same_frame(store, filter_string, order_by, data.draw(st.sampled_from([1, 2, 3])))
    finally:
        store.close()


def test_importing_litexp_does_not_import_pandas():
    code = "import sys, litexp, litexp.search; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
