"""Helpers for the search tests: real MLflow stores, MLflow's verdicts, filter generators.

Stores are written with MLflow's own ``MlflowClient`` and read back with
``litexp.store.FileStore``; MLflow's answers come from the real MLflow.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow  # noqa: E402  (a missing mlflow must fail these tests, not skip them)
from hypothesis import strategies as st  # noqa: E402
from mlflow.entities import (Dataset, DatasetInput, InputTag, Metric, Param, Run, RunData,  # noqa: E402
                             RunInfo, RunInputs, RunTag, ViewType)
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils.search_utils import SearchUtils  # noqa: E402

from litexp.store import FileStore  # noqa: E402

assert mlflow.__version__

NAN = float("nan")
INF = float("inf")

METRIC_KEYS = ["m1", "m2", "loss.val", "f1 score", "acc"]
PARAM_KEYS = ["p1", "p2", "lr", "opt.name"]
TAG_KEYS = ["t1", "t2", "team", "note"]
METRIC_VALUES = [-1.5, 0.0, 0.5, 1.0, 2.0, 10.0, 1e-3, NAN, INF, -INF]
STRING_VALUES = ["a", "b", "A", "ab", "abc", "a%b", "x_y", "1", "10", "2", " a", "Ab", "it's", "xa", "aa"]
START_TIMES = [1000, 1001, 1001, 1002, 1003, 1003, 1005]
STATUSES = ["FINISHED", "FAILED", "KILLED"]


# ------------------------------------------------------------------ stores
@dataclass
class RunSpec:
    """One run to write with MlflowClient."""

    exp: int
    start_time: int
    name: Optional[str]
    metrics: Dict[str, List[Tuple[float, int, int]]] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    dataset: Optional[Tuple[str, str, Optional[str]]] = None
    end: Optional[Tuple[str, int]] = None
    deleted: bool = False


@dataclass
class StoreSpec:
    n_exps: int
    runs: List[RunSpec]


@st.composite
def run_specs(draw: Any, n_exps: int) -> RunSpec:
    points = st.lists(st.tuples(st.sampled_from(METRIC_VALUES), st.integers(1, 3), st.integers(0, 2)),
                      min_size=1, max_size=3)
    return RunSpec(
        exp=draw(st.integers(0, n_exps - 1)),
        start_time=draw(st.sampled_from(START_TIMES)),
        name=draw(st.sampled_from([None, "r0", "r1", "r2", "run-a", "Run_B"])),
        metrics=draw(st.dictionaries(st.sampled_from(METRIC_KEYS), points, max_size=3)),
        params=draw(st.dictionaries(st.sampled_from(PARAM_KEYS), st.sampled_from(STRING_VALUES), max_size=3)),
        tags=draw(st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(STRING_VALUES), max_size=3)),
        dataset=draw(st.one_of(st.none(), st.tuples(st.sampled_from(["ds", "train_ds", "DS2"]),
                                                    st.sampled_from(["abc", "d1"]),
                                                    st.sampled_from([None, "train", "eval"])))),
        end=draw(st.one_of(st.none(), st.tuples(st.sampled_from(STATUSES), st.integers(1000, 1010)))),
        deleted=draw(st.booleans()),
    )


@st.composite
def store_specs(draw: Any, max_runs: int = 8) -> StoreSpec:
    n_exps = draw(st.integers(1, 3))
    runs = draw(st.lists(run_specs(n_exps), min_size=0, max_size=max_runs))
    return StoreSpec(n_exps, runs)


@dataclass
class BuiltStore:
    root: str
    client: MlflowClient
    exp_ids: List[str]
    run_ids: List[str]

    def records(self, view_type: int = ViewType.ALL, exp_ids: Optional[Sequence[str]] = None) -> list:
        """The runs as litexp's FileStore reads them."""
        return FileStore(self.root).load_runs(list(exp_ids or self.exp_ids), view_type)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def build_store(spec: StoreSpec, root: Optional[str] = None) -> BuiltStore:
    """Write ``spec`` with MLflow's own client into a new directory."""
    root = root or tempfile.mkdtemp(prefix="litexp-search-")
    client = MlflowClient(tracking_uri="file:" + str(root))
    exp_ids = [client.create_experiment(f"exp{i}") for i in range(spec.n_exps)]
    run_ids = []
    for i, run in enumerate(spec.runs):
        created = client.create_run(exp_ids[run.exp], start_time=run.start_time, run_name=run.name)
        run_id = created.info.run_id
        metrics = [Metric(k, v, 100 + ts, step) for k, pts in run.metrics.items() for v, ts, step in pts]
        client.log_batch(run_id, metrics=metrics,
                         params=[Param(k, v) for k, v in run.params.items()],
                         tags=[RunTag(k, v) for k, v in run.tags.items()])
        if run.dataset is not None:
            name, digest, context = run.dataset
            tags = [InputTag("mlflow.data.context", context)] if context else []
            client.log_inputs(run_id, datasets=[DatasetInput(Dataset(name=name, digest=digest, source_type="local",
                                                                     source="src"), tags=tags)])
        if run.end is not None:
            client.set_terminated(run_id, run.end[0], end_time=run.end[1])
        if run.deleted:
            client.delete_run(run_id)
        run_ids.append(run_id)
    return BuiltStore(str(root), client, exp_ids, run_ids)


# ------------------------------------------------------------ MLflow's verdict
def _dummy_run(clauses: List[dict]) -> Run:
    metrics, params, tags = {}, {}, {}
    for c in clauses:
        key = SearchUtils.translate_key_alias(c["key"])
        if c["type"] == "metric":
            metrics[key] = Metric(key, 1.0, 0, 0)
        elif c["type"] == "parameter":
            params[key] = Param(key, "x")
        elif c["type"] == "tag":
            tags[key] = RunTag(key, "x")
    info = RunInfo(run_id="r" * 32, experiment_id="1", user_id="u", status="FINISHED", start_time=1,
                   end_time=2, lifecycle_stage="active", run_name="n", artifact_uri="file:///a")
    inputs = RunInputs(dataset_inputs=[DatasetInput(Dataset("n", "d", "local", "s"),
                                                    tags=[InputTag("mlflow.data.context", "train")])])
    return Run(info, RunData(list(metrics.values()), list(params.values()), list(tags.values())), inputs)


def mlflow_accepts_filter(filter_string: Optional[str]) -> bool:
    """Whether MLflow accepts the filter for every store: it parses, and no clause fails on a run.

    MLflow checks comparators and some types only while matching a run (and
    stops at the first false clause), so each clause is tried on a run that
    has every key the filter names.
    """
    try:
        clauses = SearchUtils.parse_search_filter(filter_string)
    except Exception:
        return False
    run = _dummy_run(clauses)
    for clause in clauses:
        try:
            SearchUtils._does_run_match_clause(run, clause)
        except Exception:
            return False
    return True


def mlflow_accepts_order(order_by: Optional[Sequence[str]]) -> bool:
    """Whether MLflow accepts every order_by item for every store."""
    run = _dummy_run([])
    for item in order_by or []:
        try:
            key_type, key, asc = SearchUtils.parse_order_by_for_search_runs(item)
            SearchUtils._get_value_for_sort(run, key_type, key, asc)
        except Exception:
            return False
    return True


def mlflow_search(store: BuiltStore, filter_string: Optional[str], order_by: Optional[List[str]] = None,
                  view_type: int = ViewType.ACTIVE_ONLY, max_results: Optional[int] = None,
                  page_token: Optional[str] = None, exp_ids: Optional[Sequence[str]] = None
                  ) -> Tuple[List[str], Optional[str]]:
    """Run ids (in order) and next token from MLflow's ``MlflowClient.search_runs``."""
    paged = store.client.search_runs(list(exp_ids or store.exp_ids), filter_string or "", view_type,
                                     max_results=1000 if max_results is None else max_results,
                                     order_by=order_by, page_token=page_token)
    token = paged.token
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return [r.info.run_id for r in paged], token or None


def litexp_search(store: BuiltStore, filter_string: Optional[str], order_by: Optional[List[str]] = None,
                  view_type: int = ViewType.ACTIVE_ONLY, max_results: Optional[int] = None,
                  page_token: Optional[str] = None, exp_ids: Optional[Sequence[str]] = None
                  ) -> Tuple[List[str], Optional[str]]:
    """The same search through litexp's FileStore + search layer."""
    from litexp.search import search_runs

    found, token = search_runs(store.records(view_type, exp_ids), filter_string, order_by, max_results, page_token)
    return [r.run_id for r in found], token


# ------------------------------------------------------------ filter generators
ENTITY_ALIASES = {
    "metric": ["metrics", "metric", "`metrics`"],
    "param": ["params", "param", "parameter", "parameters"],
    "tag": ["tags", "tag"],
    "attr": ["", "attributes.", "attribute.", "attr.", "run."],
    "dataset": ["datasets", "dataset"],
}
NUMBERS = ["0", "1", "2", "-1", "10", "0.5", ".5", "1.", "1e-3", "1E1", "-0", "-1.5", "0.001", "00002"]
BAD_NUMBERS = ["'1'", "nan", "+1", "1e+3", "0x1", "1a", "inf", "- 1"]
METRIC_OPS = [">", ">=", "<", "<=", "=", "!="]
BAD_METRIC_OPS = ["==", "<>", "LIKE", "=>", "~"]
STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "like", "ilike"]
BAD_STRING_OPS = [">", "<=", "==", "NOT LIKE", "RLIKE"]
PATTERNS = ["%a%", "a%", "%b", "_b", "A%", "%", "a_", "%a%b%", "%'s", "x\\_y", "%A"]


def _quote(value: str, style: int) -> str:
    if style == 1 and '"' not in value:
        return '"' + value + '"'
    return "'" + value + "'"


def _key(key: str, style: int) -> str:
    if style == 1 or " " in key:
        return "`" + key + "`"
    if style == 2:
        return '"' + key + '"'
    return key


@st.composite
def clauses(draw: Any, run_ids: Sequence[str] = ()) -> str:
    """One clause drawn from MLflow's grammar, sometimes deliberately wrong."""
    kind = draw(st.sampled_from(["metric", "metric", "param", "param", "tag", "tag", "attr_str", "attr_num",
                                 "dataset", "run_id_list", "is_null", "in_list", "bad"]))
    bad = draw(st.integers(0, 9)) == 0
    if kind == "metric":
        alias = draw(st.sampled_from(ENTITY_ALIASES["metric"]))
        key = _key(draw(st.sampled_from(METRIC_KEYS + ["missing"])), draw(st.integers(0, 3)))
        op = draw(st.sampled_from(BAD_METRIC_OPS if bad else METRIC_OPS))
        num = draw(st.sampled_from(BAD_NUMBERS if draw(st.integers(0, 12)) == 0 else NUMBERS))
        return f"{alias}.{key} {op} {num}"
    if kind in ("param", "tag"):
        alias = draw(st.sampled_from(ENTITY_ALIASES[kind]))
        keys = PARAM_KEYS if kind == "param" else TAG_KEYS + ["mlflow.runName"]
        key = _key(draw(st.sampled_from(keys + ["missing"])), draw(st.integers(0, 3)))
        op = draw(st.sampled_from(BAD_STRING_OPS if bad else STRING_OPS))
        if op.upper() in ("LIKE", "ILIKE") and draw(st.booleans()):
            value = draw(st.sampled_from(PATTERNS))
        else:
            value = draw(st.sampled_from(STRING_VALUES + ["r0", "run-a"]))
        quoted = _quote(value, draw(st.integers(0, 1)))
        if draw(st.integers(0, 15)) == 0:
            quoted = draw(st.sampled_from(["a", "`a`", "1", "('a')", "NULL"]))
        return f"{alias}.{key} {op} {quoted}"
    if kind == "attr_str":
        alias = draw(st.sampled_from(ENTITY_ALIASES["attr"]))
        key = draw(st.sampled_from(["run_id", "run_name", "user_id", "status", "artifact_uri", "`run name`",
                                    '"Run Name"', "`Run name`", "status"]))
        op = draw(st.sampled_from(BAD_STRING_OPS if bad else STRING_OPS))
        value = draw(st.sampled_from(["FINISHED", "RUNNING", "finished", "FAILED", "KILLED", "r0", "r%", "%a",
                                      "run-a", "Run_B", "%", "%file%"] + list(run_ids[:3])))
        return f"{alias}{key} {op} {_quote(value, draw(st.integers(0, 1)))}"
    if kind == "attr_num":
        alias = draw(st.sampled_from(ENTITY_ALIASES["attr"]))
        key = draw(st.sampled_from(["start_time", "end_time", "created", "Created"]))
        op = draw(st.sampled_from(BAD_METRIC_OPS if bad else METRIC_OPS))
        value = draw(st.sampled_from(["1000", "1001", "1002", "1003", "1005", "1004.5", "1e3", "0", "'1001'"]))
        return f"{alias}{key} {op} {value}"
    if kind == "dataset":
        alias = draw(st.sampled_from(ENTITY_ALIASES["dataset"]))
        key = draw(st.sampled_from(["name", "digest", "context", "source"]))
        if draw(st.booleans()):
            neg = draw(st.sampled_from(["", "NOT "]))
            return f"{alias}.{key} {neg}IN ('ds', 'train', 'abc')"
        op = draw(st.sampled_from(BAD_STRING_OPS if bad else STRING_OPS))
        value = draw(st.sampled_from(["ds", "train", "eval", "abc", "%ds", "D%", "d_"]))
        return f"{alias}.{key} {op} {_quote(value, draw(st.integers(0, 1)))}"
    if kind == "run_id_list":
        ids = draw(st.lists(st.sampled_from(list(run_ids[:4]) + ["nope"]), min_size=1, max_size=3))
        neg = draw(st.sampled_from(["", "NOT ", "not "]))
        alias = draw(st.sampled_from(ENTITY_ALIASES["attr"]))
        items = ", ".join(_quote(i, draw(st.integers(0, 1))) for i in ids)
        if draw(st.integers(0, 10)) == 0:
            return f"{alias}run_id {draw(st.sampled_from(['=', '!=', 'LIKE']))} ({items})"
        return f"{alias}run_id {neg}IN ({items})"
    if kind == "is_null":
        entity = draw(st.sampled_from(["metric", "param", "param", "tag", "tag", "attr", "dataset"]))
        if entity == "attr":
            ident = draw(st.sampled_from(["end_time", "run_name", "attributes.status"]))
        elif entity == "dataset":
            ident = "datasets.name"
        else:
            keys = {"metric": METRIC_KEYS, "param": PARAM_KEYS, "tag": TAG_KEYS}[entity]
            alias = draw(st.sampled_from(ENTITY_ALIASES[entity]))
            ident = f"{alias}.{_key(draw(st.sampled_from(keys + ['missing'])), draw(st.integers(0, 2)))}"
        return f"{ident} IS {draw(st.sampled_from(['NULL', 'NOT NULL', 'null', 'not null', 'NOT  NULL']))}"
    if kind == "in_list":
        entity = draw(st.sampled_from(["param", "tag", "metric"]))
        alias = draw(st.sampled_from(ENTITY_ALIASES[entity]))
        keys = {"metric": METRIC_KEYS, "param": PARAM_KEYS, "tag": TAG_KEYS}[entity]
        values = draw(st.lists(st.sampled_from(STRING_VALUES), min_size=1, max_size=3))
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{alias}.{_key(draw(st.sampled_from(keys)), 0)} {neg}IN ({', '.join(_quote(v, 0) for v in values)})"
    return draw(st.sampled_from([
        "metrics.m1", "foo.a = 'x'", "experiment_id = '1'", "lifecycle_stage = 'active'", "name = 'x'",
        "METRICS.m1 > 1", "metrics.m1 > 1 OR", "1 > metrics.m1", "params.p1 = 'a' = 'b'", "metrics.m1 > 1;",
        "(metrics.m1 > 1", "metrics.m1 > 1)", "params.p1 = 'a", "metrics.as > 1", "metrics.m1 -- x",
        "tags.t1 = 'a' tags.t2 IS NULL", "params.p1 = 'x' params.p2 IS NOT NULL", "metrics.m1 > 1 metrics.m2 < 2",
        "run_id IN ('a') params.p1 IS NULL", "run_id IN ('a') params.p1 = 'a'", "metrics. m1 > 0",
        "metrics.* > 1", "params.p1 = \"a\".\"b\"", "AND", "params.p1 IS", "params.p1 IN 'a'",
        "run_id IN ()", "run_id IN (1)", "run_id IN ('a' 'b')", "run_id IN (('x'))", "tags.t1 LIKE b tags.t2 IS NULL",
    ]))


JOINERS = [" AND ", " AND ", " AND ", " and ", " AnD ", "  AND\n", " AND AND ", " "]


@st.composite
def filters(draw: Any, run_ids: Sequence[str] = ()) -> Optional[str]:
    """A filter in MLflow's grammar (joined clauses), sometimes wrong."""
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, "", " ", "AND"]))
    parts = draw(st.lists(clauses(run_ids), min_size=1, max_size=3))
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from(JOINERS)) + part
    if draw(st.integers(0, 20)) == 0:
        text = "AND " + text
    if draw(st.integers(0, 20)) == 0:
        text = text + " AND"
    return text


ORDER_ITEMS = [
    "start_time", "end_time", "run_name", "status", "run_id", "user_id", "artifact_uri", "created", "Created",
    "attributes.start_time", "attr.end_time", "metrics.m1", "metrics.m2", "metrics.`f1 score`", "metrics.loss.val",
    "metric.acc", "params.p1", "params.lr", "param.`opt.name`", "tags.t1", "tags.team", "tags.mlflow.runName",
    "tags.`mlflow.runName`", "metrics.missing",
]
BAD_ORDER_ITEMS = ["experiment_id", "`run name`", "metrics.m1 DOWN", " metrics.m1", "metrics.m1,params.p1",
                   "datasets.name", "foo.bar", "metrics.m1 DESC DESC", "(metrics.m1)", "", "metrics.m1 ASC NULLS LAST"]


@st.composite
def order_bys(draw: Any) -> Optional[List[str]]:
    if draw(st.integers(0, 4)) == 0:
        return None
    items = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.integers(0, 15)) == 0:
            items.append(draw(st.sampled_from(BAD_ORDER_ITEMS)))
            continue
        item = draw(st.sampled_from(ORDER_ITEMS))
        direction = draw(st.sampled_from(["", " ASC", " DESC", " desc", " asc", "  DESC"]))
        items.append(item + direction)
    return items


TOKEN_SOUP = [
    "metrics.m1", "params.p1", "tags.t1", "run_id", "status", "start_time", "`run name`", "datasets.name",
    ">", ">=", "=", "!=", "<", "LIKE", "ILIKE", "==", "'a'", '"a"', "'%a%'", "1", "-1", ".5", "1e-3",
    "AND", "and", "OR", "NOT", "(", ")", "IS", "NULL", "NOT NULL", "IN", "NOT IN", ",", "('a', 'b')",
    ".", "`", "'", '"', ";", "--", "#", "DESC", "*", "+", "@", "x", "metrics.", "metrics.`a b`",
]


@st.composite
def token_soups(draw: Any) -> str:
    """Random sequences of grammar tokens (mostly invalid filters)."""
    toks = draw(st.lists(st.sampled_from(TOKEN_SOUP), min_size=1, max_size=8))
    seps = draw(st.lists(st.sampled_from([" ", "", "  "]), min_size=len(toks), max_size=len(toks)))
    return "".join(t + s for t, s in zip(toks, seps)).rstrip()


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
