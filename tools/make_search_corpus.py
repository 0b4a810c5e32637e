"""Freeze MLflow's verdicts on the search tests' inputs into ``tests/data/search_corpus/``.

The filter-language tests (``tests/search/test_search_*.py``) compare litexp's answers with
these files, so they run without MLflow installed. ``tests/search/test_search_corpus.py``
(which needs MLflow) imports this script, rebuilds every file in memory with the
installed MLflow and fails when the frozen files differ: the corpus cannot go stale
silently. Run it again after changing a case in ``tests/search_cases.py``, or after
moving to another MLflow release. From the repository root::

    MLFLOW_ALLOW_FILE_STORE=true /tmp/venv/bin/python tools/make_search_corpus.py
    MLFLOW_ALLOW_FILE_STORE=true /tmp/venv/bin/python tools/make_search_corpus.py --check

Needs the standard library and ``mlflow`` (3.17.2 recorded). The inputs come from
``tests/search_cases.py`` (standard library only): the hand-written cases, and a sample
of the generated ones drawn with ``random.Random`` and fixed seeds.

What each file holds (each records ``mlflow_version``):

``parse.json``
    For each hand-written filter: whether MLflow accepts it, for every store. MLflow
    finds some errors only while matching a run (and stops at the first false clause),
    so a filter counts as accepted when ``SearchUtils.parse_search_filter`` parses it
    and no clause raises on a run that has every key the filter names. The clauses
    MLflow parses (entity, key, comparator, value) for ``CLAUSE_CASES``. For each
    order_by item: accepted or not, and MLflow's (entity, key, ascending). MLflow's
    error messages are not recorded (litexp's messages are its own).
``runs.json``
    The hand-written run sets of ``test_search_match`` and ``test_search_superset``:
    the runs as MLflow reads them back, and, for every search those tests make, the
    run ids MLflow returns (in order) and its next page token.
``random_runs.json``
    A seeded sample of the random stores and queries of ``test_search_differential``
    (verdicts for filter and order_by, first and second page) and of
    ``test_search_superset``'s boolean-algebra test (clauses MLflow accepts, and the
    runs MLflow selects with each).
``experiments.json``
    The experiments of ``test_search_experiments`` as MLflow reads them, and for every
    filter / order_by there (hand-written and a seeded sample): rejected, or the
    experiment ids MLflow returns.

How the run sets are recorded: each store is written with ``MlflowClient`` into a
temporary file store and read back with ``MlflowClient.search_runs`` (so metric values
are MLflow's latest values, run names and ``mlflow.runName`` tags are MLflow's, dataset
inputs are MLflow's). What MLflow makes up at random (run ids, experiment ids, the names
of unnamed runs) and the temporary path in artifact URIs are then replaced by fixed
values; experiment timestamps are mapped to fixed ones in the same order. MLflow's
answers are computed on those runs the way MLflow's ``FileStore`` searches:
``SearchUtils.filter``, ``SearchUtils.sort`` and ``SearchUtils.paginate`` (experiments:
``SearchExperimentsUtils.filter`` and ``sort``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TESTS = REPO / "tests"
DEFAULT_OUT = TESTS / "data" / "search_corpus"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import mlflow  # noqa: E402
import search_cases as cases  # noqa: E402
from mlflow.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
    ViewType,
)
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils  # noqa: E402

FILES = ("parse.json", "runs.json", "random_runs.json", "experiments.json")
CONTEXT_TAG = "mlflow.data.context"
RUN_NAME_TAG = "mlflow.runName"
ID_SEED = 7
TIME_BASE = 1_700_000_000_000


# ------------------------------------------------------------ MLflow's verdicts on text
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
    info = RunInfo(
        run_id="r" * 32,
        experiment_id="1",
        user_id="u",
        status="FINISHED",
        start_time=1,
        end_time=2,
        lifecycle_stage="active",
        run_name="n",
        artifact_uri="file:///a",
    )
    inputs = RunInputs(
        dataset_inputs=[DatasetInput(Dataset("n", "d", "local", "s"), tags=[InputTag(CONTEXT_TAG, "train")])]
    )
    return Run(info, RunData(list(metrics.values()), list(params.values()), list(tags.values())), inputs)


def mlflow_accepts_filter(filter_string: Optional[str]) -> bool:
    """Whether MLflow accepts the filter for every store: it parses, and no clause fails on a run.

    MLflow checks comparators and some types only while matching a run (and stops at
    the first false clause), so each clause is tried on a run that has every key the
    filter names.
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


def mlflow_clauses(filter_string: str) -> List[Dict[str, Any]]:
    """MLflow's parse: entity, key (aliases translated), upper-case comparator, value."""
    found = []
    for clause in SearchUtils.parse_search_filter(filter_string):
        value = clause["value"]
        found.append(
            {
                "type": clause["type"],
                "key": SearchUtils.translate_key_alias(clause["key"]),
                "comparator": clause["comparator"].upper(),
                "value": {"tuple": list(value)} if isinstance(value, tuple) else value,
            }
        )
    return found


def mlflow_order_key(item: str) -> List[Any]:
    entity, key, ascending = SearchUtils.parse_order_by_for_search_runs(item)
    return [entity, SearchUtils.translate_key_alias(key), ascending]


# ------------------------------------------------------------ stores written by MLflow
def write_store(spec: cases.StoreSpec, root: str) -> Tuple[MlflowClient, List[str], List[str]]:
    """Write ``spec`` with MLflow's own client into ``root``: (client, experiment ids, run ids)."""
    client = MlflowClient(tracking_uri="file:" + str(root))
    exp_ids = [client.create_experiment(f"exp{i}") for i in range(spec.n_exps)]
    run_ids = []
    for run in spec.runs:
        created = client.create_run(exp_ids[run.exp], start_time=run.start_time, run_name=run.name)
        run_id = created.info.run_id
        metrics = [Metric(k, v, 100 + ts, step) for k, pts in run.metrics.items() for v, ts, step in pts]
        client.log_batch(
            run_id,
            metrics=metrics,
            params=[Param(k, v) for k, v in run.params.items()],
            tags=[RunTag(k, v) for k, v in run.tags.items()],
        )
        if run.dataset is not None:
            name, digest, context = run.dataset
            tags = [InputTag(CONTEXT_TAG, context)] if context else []
            client.log_inputs(
                run_id,
                datasets=[
                    DatasetInput(Dataset(name=name, digest=digest, source_type="local", source="src"), tags=tags)
                ],
            )
        if run.end is not None:
            client.set_terminated(run_id, run.end[0], end_time=run.end[1])
        if run.deleted:
            client.delete_run(run_id)
        run_ids.append(run_id)
    return client, exp_ids, run_ids


class Ids:
    """Fixed stand-ins for the ids MLflow draws at random, from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def run_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def experiment_id(self) -> str:
        return str(self.rng.randrange(10**17, 10**18))


def encode_float(value: float) -> Any:
    """JSON has no NaN or infinities: those become the strings float() reads back."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def decode_float(value: Any) -> float:
    return float(value)


def _check_no_leak(data: Any, secrets: Sequence[str]) -> None:
    blob = json.dumps(data)
    for secret in secrets:
        assert secret not in blob, f"a value MLflow drew at random leaked into the corpus: {secret!r}"


def read_runs(
    client: MlflowClient, exp_ids: List[str], run_ids: List[str], spec: cases.StoreSpec, ids: Ids, root: str
) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The runs as MLflow reads them, with fixed ids, artifact URIs and names for unnamed runs."""
    exp_map = {real: ids.experiment_id() for real in exp_ids}
    run_map = {real: ids.run_id() for real in run_ids}
    found = {r.info.run_id: r for r in client.search_runs(exp_ids, "", ViewType.ALL, max_results=1000)}
    assert sorted(found) == sorted(run_ids), "MLflow did not read back every run"
    runs = []
    for index, (real_id, run_spec) in enumerate(zip(run_ids, spec.runs)):
        run = found[real_id]
        run_id, exp_id = run_map[real_id], exp_map[run.info.experiment_id]
        run_name = run.info.run_name
        tags = dict(run.data.tags)
        if run_spec.name is None:  # MLflow named the run at random
            run_name = f"auto-run-{index}"
            if tags.get(RUN_NAME_TAG) == run.info.run_name:
                tags[RUN_NAME_TAG] = run_name
        datasets = [
            {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "tags": dict(sorted((t.key, t.value) for t in d.tags)),
            }
            for d in run.inputs.dataset_inputs
        ]
        runs.append(
            {
                "run_id": run_id,
                "experiment_id": exp_id,
                "run_name": run_name,
                "user_id": run.info.user_id,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "end_time": run.info.end_time,
                "artifact_uri": f"file:///mlruns/{exp_id}/{run_id}/artifacts",
                "lifecycle_stage": run.info.lifecycle_stage,
                "metrics": {k: encode_float(v) for k, v in sorted(run.data.metrics.items())},
                "params": dict(sorted(run.data.params.items())),
                "tags": dict(sorted(tags.items())),
                "datasets": datasets,
            }
        )
    secrets = [root] + list(exp_ids) + list(run_ids)
    secrets += [found[i].info.run_name for i, s in zip(run_ids, spec.runs) if s.name is None]
    _check_no_leak(runs, secrets)
    return [exp_map[e] for e in exp_ids], runs


def run_entity(data: Dict[str, Any]) -> Run:
    """An MLflow ``Run`` holding exactly what the corpus records."""
    info = RunInfo(
        run_id=data["run_id"],
        experiment_id=data["experiment_id"],
        user_id=data["user_id"],
        status=data["status"],
        start_time=data["start_time"],
        end_time=data["end_time"],
        lifecycle_stage=data["lifecycle_stage"],
        artifact_uri=data["artifact_uri"],
        run_name=data["run_name"],
    )
    metrics = [Metric(k, decode_float(v), 0, 0) for k, v in data["metrics"].items()]
    params = [Param(k, v) for k, v in data["params"].items()]
    tags = [RunTag(k, v) for k, v in data["tags"].items()]
    inputs = RunInputs(
        dataset_inputs=[
            DatasetInput(
                Dataset(d["name"], d["digest"], d["source_type"], d["source"]),
                tags=[InputTag(k, v) for k, v in d["tags"].items()],
            )
            for d in data["datasets"]
        ]
    )
    return Run(info, RunData(metrics, params, tags), inputs)


STAGES = {ViewType.ACTIVE_ONLY: ("active",), ViewType.DELETED_ONLY: ("deleted",), ViewType.ALL: ("active", "deleted")}


class RunSet:
    """One store's runs, fixed, and MLflow's answers to searches on them."""

    def __init__(self, exp_ids: List[str], runs: List[Dict[str, Any]]) -> None:
        self.exp_ids = exp_ids
        self.runs = runs
        self.entities = [run_entity(r) for r in runs]
        self.queries: Dict[str, Dict[str, Any]] = {}

    @property
    def run_ids(self) -> List[str]:
        return [r["run_id"] for r in self.runs]

    def by_name(self) -> Dict[str, str]:
        return {r["run_name"]: r["run_id"] for r in self.runs}

    def search(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """What ``MlflowClient.search_runs`` on the file store answers (max_results None: 1000)."""
        runs = [r for r in self.entities if r.info.lifecycle_stage in STAGES[view_type]]
        filtered = SearchUtils.filter(runs, filter_string or "")
        ordered = SearchUtils.sort(filtered, order_by)
        page, token = SearchUtils.paginate(ordered, page_token, 1000 if max_results is None else max_results)
        if isinstance(token, bytes):
            token = token.decode("ascii")
        return [r.info.run_id for r in page], token or None

    def record(
        self,
        filter_string: Optional[str],
        order_by: Optional[List[str]] = None,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: Optional[int] = None,
        page_token: Optional[str] = None,
    ) -> Tuple[List[str], Optional[str]]:
        """Search, and keep the answer for the corpus."""
        key = cases.query_key(filter_string, order_by, view_type, max_results, page_token)
        found = self.search(filter_string, order_by, view_type, max_results, page_token)
        self.queries.setdefault(
            key,
            {
                "filter": filter_string,
                "order_by": order_by,
                "view_type": view_type,
                "max_results": max_results,
                "page_token": page_token,
                "run_ids": found[0],
                "next_page_token": found[1],
            },
        )
        return found

    def to_json(self, with_queries: bool = True) -> Dict[str, Any]:
        out: Dict[str, Any] = {"experiment_ids": self.exp_ids, "runs": self.runs}
        if with_queries:
            out["queries"] = list(self.queries.values())
        return out


def record_run_set(spec: cases.StoreSpec, ids: Ids) -> RunSet:
    root = tempfile.mkdtemp(prefix="litexp-search-corpus-")
    try:
        client, exp_ids, run_ids = write_store(spec, root)
        fixed_exp_ids, runs = read_runs(client, exp_ids, run_ids, spec, ids, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return RunSet(fixed_exp_ids, runs)


# ------------------------------------------------------------ the files
def _header() -> Dict[str, Any]:
    return {"mlflow_version": mlflow.__version__, "made_by": "tools/make_search_corpus.py"}


def build_parse() -> Dict[str, Any]:
    filters = {f: mlflow_accepts_filter(f) for f in cases.PARSE_ACCEPTED + cases.PARSE_REJECTED}
    long_filters = {
        name: {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "accepted": mlflow_accepts_filter(text)}
        for name, text in cases.long_filters().items()
    }
    orders = {item: mlflow_accepts_order([item]) for item in cases.ORDER_ACCEPTED + cases.ORDER_REJECTED}
    order_keys = {item: mlflow_order_key(item) for item in cases.ORDER_ACCEPTED if orders[item]}
    clauses = {f: mlflow_clauses(f) for f in cases.CLAUSE_CASES if filters[f]}
    return {
        **_header(),
        "filters": filters,
        "long_filters": long_filters,
        "clauses": clauses,
        "orders": orders,
        "order_keys": order_keys,
    }


def build_runs(ids: Ids) -> Dict[str, Any]:
    match = record_run_set(cases.MATCH_SPEC, ids)
    for filter_string, _ in cases.MATCH_CASES:
        match.record(filter_string, None, ViewType.ALL)
    named = match.by_name()
    for filter_string in cases.run_id_filters(named["r_a"], named["r_b"]).values():
        match.record(filter_string, None, ViewType.ALL)
    for order_by in cases.MATCH_ORDERS:
        match.record(None, order_by, ViewType.ALL)
    for size in cases.PAGING_SIZES:
        cases.pages(
            lambda token, size=size: match.record(cases.PAGING_FILTER, cases.PAGING_ORDER, ViewType.ALL, size, token),
            size,
        )
    for view_type in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        match.record(cases.VIEW_FILTER, None, view_type)

    superset = record_run_set(cases.SUPERSET_SPEC, ids)
    for filter_string in cases.superset_mlflow_filters():
        superset.record(filter_string)
    return {**_header(), "stores": {"match": match.to_json(), "superset": superset.to_json()}}


def _differential_case(
    store: RunSet,
    filter_string: Optional[str],
    order_by: Optional[List[str]],
    view_type: int,
    max_results: Optional[int],
) -> Dict[str, Any]:
    case = {
        "filter": filter_string,
        "order_by": order_by,
        "view_type": view_type,
        "max_results": max_results,
        "filter_ok": mlflow_accepts_filter(filter_string),
        "order_ok": mlflow_accepts_order(order_by),
    }
    if case["filter_ok"] and case["order_ok"]:
        first = store.search(filter_string, order_by, view_type, max_results)
        case["pages"] = [list(first)]
        if first[1] is not None:
            case["pages"].append(list(store.search(filter_string, order_by, view_type, max_results, first[1])))
    return case


def _mlflow_atom(chooser: cases.Chooser, run_ids: Sequence[str]) -> str:
    """A clause MLflow accepts (and that is not empty)."""
    while True:
        clause = cases.gen_clause(chooser, run_ids)
        if mlflow_accepts_filter(clause) and SearchUtils.parse_search_filter(clause):
            return clause


def build_random_runs(ids: Ids) -> Dict[str, Any]:
    sample = cases.DIFFERENTIAL_SAMPLE
    chooser = cases.RandomChooser(sample["seed"])
    differential = []
    for _ in range(sample["stores"]):
        store = record_run_set(cases.gen_store_spec(chooser, sample["max_runs"]), ids)
        found = []
        for _ in range(sample["queries_per_store"]):
            filter_string = cases.gen_filter(chooser, store.run_ids)
            order_by = cases.gen_order_by(chooser)
            view_type = chooser.choice(cases.VIEW_TYPES)
            max_results = chooser.choice(cases.MAX_RESULTS)
            found.append(_differential_case(store, filter_string, order_by, view_type, max_results))
        for _ in range(sample["soups_per_store"]):
            found.append(_differential_case(store, cases.gen_token_soup(chooser), None, ViewType.ALL, None))
        differential.append({**store.to_json(with_queries=False), "cases": found})

    sample_b = cases.ALGEBRA_SAMPLE
    chooser = cases.RandomChooser(sample_b["seed"])
    algebra = []
    for _ in range(sample_b["stores"]):
        store = record_run_set(cases.gen_store_spec(chooser, sample_b["max_runs"]), ids)
        store.record(None)
        rounds = []
        for _ in range(cases.ALGEBRA_ROUNDS):
            atoms = [_mlflow_atom(chooser, store.run_ids) for _ in range(3)]
            for filter_string in atoms + cases.algebra_mlflow_filters(atoms[0], atoms[1]):
                store.record(filter_string)
            rounds.append(atoms)
        for filter_string in cases.in_list_mlflow_filters():
            store.record(filter_string)
        algebra.append({**store.to_json(), "rounds": rounds})
    return {
        **_header(),
        "differential_sample": sample,
        "differential": differential,
        "algebra_sample": sample_b,
        "algebra": algebra,
    }


# ------------------------------------------------------------ experiments
def experiment_entity(data: Dict[str, Any]) -> Experiment:
    return Experiment(
        data["experiment_id"],
        data["name"],
        data["artifact_location"],
        data["lifecycle_stage"],
        tags=[ExperimentTag(k, v) for k, v in data["tags"].items()],
        creation_time=data["creation_time"],
        last_update_time=data["last_update_time"],
    )


def read_experiments(ids: Ids) -> List[Dict[str, Any]]:
    """The experiments of ``cases.EXPERIMENTS`` as MLflow reads them, with fixed ids and times."""
    root = tempfile.mkdtemp(prefix="litexp-search-corpus-")
    try:
        client = MlflowClient(tracking_uri="file:" + root)
        real_ids = []
        for name, tags in cases.EXPERIMENTS:
            real_ids.append(client.create_experiment(name, tags=tags))
            time.sleep(0.003)
        client.delete_experiment(client.get_experiment_by_name(cases.DELETED_EXPERIMENT).experiment_id)
        found = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL, max_results=1000)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert sorted(found) == sorted(real_ids), "MLflow did not read back every experiment"
    created = [found[i].creation_time for i in real_ids]
    assert created == sorted(set(created)), "experiments were created in the same millisecond; run again"
    # the same order and ties, on fixed times
    times = sorted({t for e in found.values() for t in (e.creation_time, e.last_update_time) if t is not None})
    fixed_time = {t: TIME_BASE + 1000 * rank for rank, t in enumerate(times)}
    experiments = []
    for real in real_ids:
        exp = found[real]
        exp_id = ids.experiment_id()
        experiments.append(
            {
                "experiment_id": exp_id,
                "name": exp.name,
                "artifact_location": f"file:///mlruns/{exp_id}",
                "lifecycle_stage": exp.lifecycle_stage,
                "creation_time": fixed_time.get(exp.creation_time),
                "last_update_time": fixed_time.get(exp.last_update_time),
                "tags": dict(sorted(exp.tags.items())),
            }
        )
    _check_no_leak(experiments, [root] + real_ids)
    return experiments


class ExperimentSet:
    def __init__(self, experiments: List[Dict[str, Any]]) -> None:
        self.experiments = experiments
        self.entities = [experiment_entity(e) for e in experiments]
        self.queries: Dict[str, Dict[str, Any]] = {}

    def search(
        self, filter_string: Optional[str], order_by: Optional[List[str]], view_type: int = ViewType.ALL
    ) -> List[str]:
        """What ``MlflowClient.search_experiments`` on the file store answers (max_results 1000)."""
        exps = [e for e in self.entities if e.lifecycle_stage in STAGES[view_type]]
        filtered = SearchExperimentsUtils.filter(exps, filter_string)
        ordered = SearchExperimentsUtils.sort(filtered, order_by or ["creation_time DESC", "experiment_id ASC"])
        page, _ = SearchUtils.paginate(ordered, None, 1000)
        return [e.experiment_id for e in page]

    def record(
        self, filter_string: Optional[str], order_by: Optional[List[str]] = None, view_type: int = ViewType.ALL
    ) -> Optional[List[str]]:
        entry: Dict[str, Any] = {"filter": filter_string, "order_by": order_by, "view_type": view_type}
        try:
            entry["experiment_ids"] = found = self.search(filter_string, order_by, view_type)
            entry["accepted"] = True
        except Exception:
            entry["accepted"], found = False, None
        self.queries.setdefault(cases.query_key(filter_string, order_by, view_type, None, None), entry)
        return found


def build_experiments(ids: Ids) -> Dict[str, Any]:
    store = ExperimentSet(read_experiments(ids))
    for filter_string in cases.EXP_FILTERS:
        store.record(filter_string, None, ViewType.ALL)
        store.record(filter_string, None, ViewType.ACTIVE_ONLY)
    listed = store.record(None, None, ViewType.ALL)
    for filter_string in cases.experiment_id_filters(listed[0], listed[1]):
        store.record(filter_string)
    for order_by in cases.EXP_ORDERS:
        store.record(None, order_by)
    for filter_string in cases.EXP_REJECTED:
        store.record(filter_string)
    for order_by in cases.EXP_REJECTED_ORDERS:
        store.record(None, order_by)
    chooser = cases.RandomChooser(cases.EXPERIMENT_SAMPLE["seed"])
    sample = [list(cases.gen_exp_query(chooser)) for _ in range(cases.EXPERIMENT_SAMPLE["queries"])]
    for filter_string, order_by in sample:
        store.record(filter_string, order_by)
    return {**_header(), "experiments": store.experiments, "queries": list(store.queries.values()), "sample": sample}


def build_corpus() -> Dict[str, Any]:
    """Every file of the corpus, by name, as the installed MLflow answers now."""
    ids = Ids(ID_SEED)
    return {
        "parse.json": build_parse(),
        "runs.json": build_runs(ids),
        "random_runs.json": build_random_runs(ids),
        "experiments.json": build_experiments(ids),
    }


# ------------------------------------------------------------ writing
RECORD_WIDTH = 1000


def format_json(value: Any, indent: int = 0, in_list: bool = False) -> str:
    """JSON with one record a line: a list of records one item a line, bigger dicts spread out."""
    pad, inner = " " * indent, " " * (indent + 1)
    compact = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if isinstance(value, dict) and value and not (in_list and len(compact) <= RECORD_WIDTH):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {format_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + format_json(v, indent + 1, in_list=True) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return compact


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the corpus files")
    parser.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = parser.parse_args(argv)
    corpus = build_corpus()
    stale = []
    for name, content in corpus.items():
        path = args.out / name
        text = format_json(content) + "\n"
        if args.check:
            if not path.is_file() or json.loads(path.read_text(encoding="utf-8")) != json.loads(text):
                stale.append(name)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(text.encode()):,} bytes")
    if stale:
        print("stale:", ", ".join(stale), "- run tools/make_search_corpus.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
