"""Helpers for the search tests: run sets (frozen or live), MLflow's verdicts, Hypothesis generators.

Importing this module needs no MLflow. The tests meet MLflow's answers in two ways:

* **frozen**: ``tests/data/search_corpus/`` holds MLflow's verdicts on the cases of
  ``search_cases.py`` (``tools/make_search_corpus.py`` records them, and
  ``test_search_corpus.py`` proves they are still what the installed MLflow says).
  :class:`CorpusStore` is one recorded run set: litexp searches ``RunRecord``\\ s made
  from MLflow's own view of the runs, and MLflow's answers are the recorded ones.
* **live**: :func:`build_store` writes a store now with MLflow's ``MlflowClient`` and
  litexp reads it back with its ``FileStore``; :class:`LiveStore` asks the installed
  MLflow. Tests doing this are marked :data:`needs_mlflow` (or call
  :func:`requires_mlflow`) and skip, with the reason, where MLflow is not installed.

Both stores have the same methods, so one test body checks litexp against either.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
import search_cases as cases
from hypothesis import strategies as st
from search_cases import INF, NAN, RunSpec, StoreSpec, query_key  # noqa: F401  (the tests import them here)

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 refuses file stores otherwise
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = Path(__file__).resolve().parent / "data" / "search_corpus"
REFRESH = "run `MLFLOW_ALLOW_FILE_STORE=true python tools/make_search_corpus.py` with MLflow installed"
CONTEXT_TAG = "mlflow.data.context"

HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
MLFLOW_REASON = "needs MLflow installed: checks litexp against the live MLflow (the frozen corpus covers the rest)"
#: Marks a test that asks the installed MLflow; it skips, with the reason, without MLflow.
needs_mlflow = pytest.mark.skipif(not HAVE_MLFLOW, reason=MLFLOW_REASON)
#: ``params`` of a store fixture: the frozen run set always, the live store where MLflow is installed.
STORE_KINDS = ["corpus", pytest.param("live", marks=needs_mlflow)]


def requires_mlflow(reason: str = MLFLOW_REASON) -> ModuleType:
    """Skip the calling test (or fixture) unless MLflow is installed; return ``mlflow``."""
    return pytest.importorskip("mlflow", reason=reason)


@functools.lru_cache(maxsize=None)
def corpus_tool() -> ModuleType:
    """``tools/make_search_corpus.py`` as a module (it imports MLflow)."""
    spec = importlib.util.spec_from_file_location(
        "litexp_tools_make_search_corpus", REPO / "tools" / "make_search_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------ the frozen corpus
@functools.lru_cache(maxsize=None)
def corpus(name: str) -> Dict[str, Any]:
    """``tests/data/search_corpus/<name>.json``."""
    path = CORPUS_DIR / f"{name}.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: {REFRESH}")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _frozen(table: str, key: Any, what: str) -> Any:
    entries = corpus("parse")[table]
    if key not in entries:
        pytest.fail(f"{what} {key!r} is not in the frozen corpus: {REFRESH}")
    return entries[key]


def frozen_accepts_filter(filter_string: str) -> bool:
    """MLflow's recorded verdict: does it accept ``filter_string`` (for every store)?"""
    return _frozen("filters", filter_string, "filter")


def frozen_accepts_order(item: str) -> bool:
    """MLflow's recorded verdict on the order_by list ``[item]``."""
    return _frozen("orders", item, "order_by item")


def frozen_clauses(filter_string: str) -> List[Dict[str, Any]]:
    """MLflow's recorded parse: ``type``, ``key`` (aliases translated), ``comparator``, ``value``."""
    found = []
    for clause in _frozen("clauses", filter_string, "filter"):
        value = clause["value"]
        found.append({**clause, "value": tuple(value["tuple"]) if isinstance(value, dict) else value})
    return found


def frozen_order_key(item: str) -> Tuple[str, str, bool]:
    """MLflow's recorded (entity, key, ascending) for an order_by item."""
    return tuple(_frozen("order_keys", item, "order_by item"))  # type: ignore[return-value]


def frozen_accepts_long_filter(name: str, text: str) -> bool:
    entry = _frozen("long_filters", name, "long filter")
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != entry["sha256"]:
        pytest.fail(f"long filter {name!r} changed since the corpus was recorded: {REFRESH}")
    return entry["accepted"]


def run_record(data: Dict[str, Any]) -> Any:
    """A litexp ``RunRecord`` from a run as the corpus records it (MLflow's view of the run)."""
    from litexp.records import DatasetInput, RunRecord

    return RunRecord(
        run_id=data["run_id"],
        experiment_id=data["experiment_id"],
        run_name=data["run_name"],
        user_id=data["user_id"],
        status=data["status"],
        start_time=data["start_time"],
        end_time=data["end_time"],
        artifact_uri=data["artifact_uri"],
        lifecycle_stage=data["lifecycle_stage"],
        metrics={k: float(v) for k, v in data["metrics"].items()},
        params=dict(data["params"]),
        tags=dict(data["tags"]),
        datasets=[DatasetInput(d["name"], d["digest"], d["tags"].get(CONTEXT_TAG)) for d in data["datasets"]],
    )


def experiment_record(data: Dict[str, Any]) -> Any:
    from litexp.records import ExperimentRecord

    return ExperimentRecord(
        experiment_id=data["experiment_id"],
        name=data["name"],
        artifact_location=data["artifact_location"],
        lifecycle_stage=data["lifecycle_stage"],
        creation_time=data["creation_time"],
        last_update_time=data["last_update_time"],
        tags=dict(data["tags"]),
    )


def _stages(view_type: int) -> Tuple[str, ...]:
    return {1: ("active",), 2: ("deleted",), 3: ("active", "deleted")}[view_type]


def _litexp_search(
    records: list,
    filter_string: Optional[str],
    order_by: Optional[List[str]],
    max_results: Optional[int],
    page_token: Optional[str],
) -> Tuple[List[str], Optional[str]]:
    from litexp.search import search_runs

    found, token = search_runs(records, filter_string, order_by, max_results, page_token)
    return [r.run_id for r in found], token


class CorpusStore:
    """A run set of the frozen corpus, with MLflow's recorded answers."""

    kind = "corpus"

    def __init__(self, data: Dict[str, Any]) -> None:
        self.exp_ids: List[str] = list(data["experiment_ids"])
        self.run_ids: List[str] = [r["run_id"] for r in data["runs"]]
        self._records = [run_record(r) for r in data["runs"]]
        self._answers: Dict[str, Tuple[List[str], Optional[str]]] = {}
        for q in data.get("queries", []):
            key = query_key(q["filter"], q["order_by"], q["view_type"], q["max_results"], q["page_token"])
            self._answers[key] = (q["run_ids"], q["next_page_token"])
        for case in data.get("cases", []):  # the differential sample: first and second page
            token = None
            for run_ids, next_token in case.get("pages", []):
                key = query_key(case["filter"], case["order_by"], case["view_type"], case["max_results"], token)
                self._answers[key] = (run_ids, next_token)
                token = next_token

    def records(self, view_type: int = 3, exp_ids: Optional[Sequence[str]] = None) -> list:
        wanted = set(exp_ids or self.exp_ids)
        return [r for r in self._records if r.lifecycle_stage in _stages(view_type) and r.experiment_id in wanted]

    def mlflow_search(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = 1,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
        exp_ids: Optional[Sequence[str]] = None,
    ) -> Tuple[List[str], Optional[str]]:
        assert exp_ids is None or list(exp_ids) == self.exp_ids, "the corpus searched every experiment"
        key = query_key(filter_string, order_by, view_type, max_results, page_token)
        if key not in self._answers:
            pytest.fail(f"MLflow's answer to the search {key} is not in the frozen corpus: {REFRESH}")
        run_ids, token = self._answers[key]
        return list(run_ids), token

    def litexp_search(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = 1,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
        exp_ids: Optional[Sequence[str]] = None,
    ) -> Tuple[List[str], Optional[str]]:
        return _litexp_search(self.records(view_type, exp_ids), filter_string, order_by, max_results, page_token)

    def close(self) -> None:
        pass


def corpus_store(name: str) -> CorpusStore:
    """A hand-written run set of ``runs.json`` (``match`` or ``superset``)."""
    return CorpusStore(corpus("runs")["stores"][name])


# ------------------------------------------------------------ live stores (need MLflow)
class LiveStore:
    """A store just written by MLflow's ``MlflowClient``; litexp reads it with its ``FileStore``."""

    kind = "live"

    def __init__(self, root: str, client: Any, exp_ids: List[str], run_ids: List[str]) -> None:
        self.root = root
        self.client = client
        self.exp_ids = exp_ids
        self.run_ids = run_ids

    def records(self, view_type: int = 3, exp_ids: Optional[Sequence[str]] = None) -> list:
        """The runs as litexp's FileStore reads them."""
        from litexp.store import FileStore

        return FileStore(self.root).load_runs(list(exp_ids or self.exp_ids), view_type)

    def mlflow_search(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = 1,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
        exp_ids: Optional[Sequence[str]] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """Run ids (in order) and next token from MLflow's ``MlflowClient.search_runs``."""
        paged = self.client.search_runs(
            list(exp_ids or self.exp_ids),
            filter_string or "",
            view_type,
            max_results=1000 if max_results is None else max_results,
            order_by=order_by,
            page_token=page_token,
        )
        token = paged.token
        if isinstance(token, bytes):
            token = token.decode("ascii")
        return [r.info.run_id for r in paged], token or None

    def litexp_search(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = 1,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
        exp_ids: Optional[Sequence[str]] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """The same search through litexp's FileStore + search layer."""
        return _litexp_search(self.records(view_type, exp_ids), filter_string, order_by, max_results, page_token)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


BuiltStore = LiveStore  # the name the tests use for a live store


def build_store(spec: StoreSpec, root: Optional[str] = None) -> LiveStore:
    """Write ``spec`` with MLflow's own client into a new directory (needs MLflow)."""
    root = root or tempfile.mkdtemp(prefix="litexp-search-")
    client, exp_ids, run_ids = corpus_tool().write_store(spec, root)
    return LiveStore(str(root), client, exp_ids, run_ids)


def open_store(kind: str, spec: StoreSpec, corpus_name: str) -> Any:
    """The run set ``spec`` as a frozen ``CorpusStore`` or a freshly written ``LiveStore``."""
    if kind == "corpus":
        return corpus_store(corpus_name)
    requires_mlflow()
    return build_store(spec)


def mlflow_accepts_filter(filter_string: Optional[str]) -> bool:
    """The installed MLflow's verdict (needs MLflow): see ``tools/make_search_corpus.py``."""
    return corpus_tool().mlflow_accepts_filter(filter_string)


def mlflow_accepts_order(order_by: Optional[Sequence[str]]) -> bool:
    """The installed MLflow's verdict on an order_by list (needs MLflow)."""
    return corpus_tool().mlflow_accepts_order(order_by)


def mlflow_search(
    store: Any,
    filter_string: Optional[str],
    order_by: Optional[List[str]] = None,
    view_type: int = 1,
    max_results: Optional[int] = None,
    page_token: Optional[str] = None,
    exp_ids: Optional[Sequence[str]] = None,
) -> Tuple[List[str], Optional[str]]:
    """MLflow's run ids (in order) and next page token: recorded (corpus) or asked now (live)."""
    return store.mlflow_search(filter_string, order_by, view_type, max_results, page_token, exp_ids)


def litexp_search(
    store: Any,
    filter_string: Optional[str],
    order_by: Optional[List[str]] = None,
    view_type: int = 1,
    max_results: Optional[int] = None,
    page_token: Optional[str] = None,
    exp_ids: Optional[Sequence[str]] = None,
) -> Tuple[List[str], Optional[str]]:
    """litexp's answer to the same search, on the same runs."""
    return store.litexp_search(filter_string, order_by, view_type, max_results, page_token, exp_ids)


# ------------------------------------------------------------ Hypothesis generators
class _HypothesisChooser(cases.Chooser):
    """Answers the generators' draws with Hypothesis (so failures shrink).

    Every draw is a primitive one (a sampled item, an integer), from strategies made
    once: building strategies inside a draw costs more than the searches under test.
    """

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self._draw = draw

    def choice(self, items: Sequence[Any]) -> Any:
        return self._draw(_sampled(tuple(items)))

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def boolean(self) -> bool:
        return self._draw(st.booleans())

    def optional(self, make: Callable[[cases.Chooser], Any]) -> Any:
        return None if self.boolean() else make(self)

    def many(self, make: Callable[[cases.Chooser], Any], min_size: int, max_size: int) -> List[Any]:
        return [make(self) for _ in range(self.integer(min_size, max_size))]

    def mapping(self, keys: Sequence[str], make: Callable[[cases.Chooser], Any], max_size: int) -> Dict[str, Any]:
        return {key: make(self) for key in self._draw(_distinct(tuple(dict.fromkeys(keys)), max_size))}


@functools.lru_cache(maxsize=None)
def _sampled(items: Tuple[Any, ...]) -> st.SearchStrategy:
    return st.sampled_from(items)


@functools.lru_cache(maxsize=None)
def _distinct(keys: Tuple[str, ...], max_size: int) -> st.SearchStrategy:
    return st.lists(st.sampled_from(keys), unique=True, max_size=max_size)


@st.composite
def _generated(draw: Any, make: Callable[..., Any], *args: Any) -> Any:
    """A Hypothesis strategy from a ``search_cases`` generator: ``make(chooser, *args)``."""
    return make(_HypothesisChooser(draw), *args)


def run_specs(n_exps: int) -> st.SearchStrategy:
    return _generated(cases.gen_run_spec, n_exps)


def store_specs(max_runs: int = 8) -> st.SearchStrategy:
    return _generated(cases.gen_store_spec, max_runs)


def clauses(run_ids: Sequence[str] = ()) -> st.SearchStrategy:
    """One clause drawn from MLflow's grammar, sometimes deliberately wrong."""
    return _generated(cases.gen_clause, tuple(run_ids))


def filters(run_ids: Sequence[str] = ()) -> st.SearchStrategy:
    """A filter in MLflow's grammar (joined clauses), sometimes wrong."""
    return _generated(cases.gen_filter, tuple(run_ids))


def order_bys() -> st.SearchStrategy:
    return _generated(cases.gen_order_by)


def token_soups() -> st.SearchStrategy:
    """Random sequences of grammar tokens (mostly invalid filters)."""
    return _generated(cases.gen_token_soup)


def exp_queries() -> st.SearchStrategy:
    """An experiment filter (1 to 3 clauses) and an order_by (maybe None)."""
    return _generated(cases.gen_exp_query)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
