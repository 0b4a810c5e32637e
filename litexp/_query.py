"""Run queries: the search layer applied to what the store loads, reading only what is needed.

A query with a filter, an order or a limit first reads just the keys it
touches, run by run, keeping only the runs the filter matches; then it orders
and pages them and loads the full data of the runs it returns. So memory is
bounded by the result, not by the store.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .errors import InvalidInputError
from .records import Selection
from .store import RunRecord, TrackingStore


class _Query:
    """A checked query: filter, order, view, limit and page token."""

    def __init__(
        self,
        experiment_ids: Sequence[str],
        filter_string: Optional[str] = None,
        run_view_type: Any = None,
        max_results: Optional[int] = None,
        order_by: Optional[Sequence[str]] = None,
        page_token: Optional[str] = None,
    ) -> None:
        from .search import parse_filter, parse_order_by, parse_view_type

        if isinstance(order_by, str):
            order_by = [order_by]
        self.parsed = parse_filter(filter_string)
        self.order = parse_order_by(order_by)
        self.view = parse_view_type(run_view_type)
        if max_results is not None and (
            isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0
        ):
            raise InvalidInputError(f"max_results must be a non-negative integer or None, got {max_results!r}.")
        self.max_results = max_results
        self.page_token = page_token
        self.ids = [str(e) for e in experiment_ids]

    @property
    def everything(self) -> bool:
        """Every run of the view, in the default order."""
        return self.parsed.is_empty and self.max_results is None and self.page_token is None and not self.order.keys

    def pick(self, store: TrackingStore) -> Tuple[List[RunRecord], Optional[str]]:
        """The matching runs in order (with only the keys the query reads, for a store that
        loads partially), and the next page token. Runs are streamed: only matches are held."""
        from .search import match_run, needed_keys, search_runs, server_filter

        selection = needed_keys(self.parsed, self.order)
        loaded = store.iter_runs(self.ids, self.view, selection, filter_string=server_filter(self.parsed))
        root = self.parsed.root
        keep = store.partial_loads
        kept = [_light(r, self.order) if keep else r for r in loaded if root is None or match_run(root, r)]
        return search_runs(kept, None, self.order, self.max_results, self.page_token)


_LIGHT_FIELDS = (
    "run_id",
    "experiment_id",
    "run_name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
    "deleted_time",
    "metrics",
    "params",
    "tags",
    "datasets",
)


class _Light:
    """A matched run as the order needs it (a few hundred bytes, not a whole record)."""

    __slots__ = _LIGHT_FIELDS
    run_id: Any
    experiment_id: Any
    run_name: Any
    user_id: Any
    status: Any
    start_time: Any
    end_time: Any
    artifact_uri: Any
    lifecycle_stage: Any
    deleted_time: Any
    metrics: Dict[str, Any]
    params: Dict[str, Any]
    tags: Dict[str, Any]
    datasets: List[Any]


def _light(record: RunRecord, order: Any) -> Any:
    from .search._model import ATTRIBUTE, METRIC, PARAM, TAG

    light = _Light()
    for name in _LIGHT_FIELDS:
        setattr(light, name, None)
    # run_name is always filled in by the reader (from the mlflow.runName tag when meta.yaml has none)
    light.run_id, light.start_time, light.run_name = record.run_id, record.start_time, record.run_name
    kept: Dict[str, Dict[str, Any]] = {METRIC: {}, PARAM: {}, TAG: {}}
    sources: Dict[str, Dict[str, Any]] = {METRIC: record.metrics, PARAM: record.params, TAG: record.tags}
    for key in order.keys:
        if key.entity == ATTRIBUTE:
            setattr(light, key.key, getattr(record, key.key))
        elif key.entity in sources and key.key in sources[key.entity]:
            kept[key.entity][key.key] = sources[key.entity][key.key]
    light.metrics, light.params, light.tags, light.datasets = kept[METRIC], kept[PARAM], kept[TAG], []
    return light


def select_runs(
    store: TrackingStore,
    experiment_ids: Sequence[str],
    filter_string: Optional[str] = None,
    run_view_type: Any = None,
    max_results: Optional[int] = None,
    order_by: Optional[Sequence[str]] = None,
    page_token: Optional[str] = None,
    full: bool = True,
) -> Tuple[List[RunRecord], Optional[str]]:
    """The matching runs in order, and the next page token.

    Everything is checked before any run is read. With ``full=False`` the runs
    carry only their meta data and the keys the query used.
    """
    from .search import search_runs

    query = _Query(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)
    if full and query.everything:
        return search_runs(store.load_runs(query.ids, query.view), None, query.order, None, None)
    if not full:
        from .search import match_run, needed_keys, server_filter

        selection = needed_keys(query.parsed, query.order)
        loaded = store.iter_runs(query.ids, query.view, selection, filter_string=server_filter(query.parsed))
        root = query.parsed.root
        kept = [r for r in loaded if root is None or match_run(root, r)]
        return search_runs(kept, None, query.order, query.max_results, query.page_token)
    picked, token = query.pick(store)
    if not picked or not store.partial_loads:
        return picked, token
    by_id = {r.run_id: r for r in store.load_runs(query.ids, query.view, None, run_ids=[r.run_id for r in picked])}
    return [by_id[r.run_id] for r in picked if r.run_id in by_id], token


def search_frame(store: TrackingStore, experiment_ids: Sequence[str], **kwargs: Any) -> Any:
    """Search runs and return MLflow's ``search_runs`` DataFrame.

    kwargs: ``filter_string``, ``run_view_type``, ``max_results``, ``order_by``, ``page_token``.
    The frame is built column by column from the runs as they are read; a filtered query
    first keeps only what its order needs of each match, then reads the rows it returns.
    """
    from .search import FrameBuilder

    unknown = set(kwargs) - {"filter_string", "run_view_type", "max_results", "order_by", "page_token"}
    if unknown:
        raise InvalidInputError(f"Unknown search argument(s): {', '.join(sorted(unknown))}.")
    query = _Query(experiment_ids, **kwargs)
    builder = FrameBuilder()
    no_datasets = Selection(datasets=False)
    if query.everything:
        for record in store.iter_runs(query.ids, query.view, no_datasets):
            builder.add(record)
        return builder.frame(builder.default_order())
    picked, _ = query.pick(store)
    if not store.partial_loads:  # the store sent whole runs
        for record in picked:
            builder.add(record)
        return builder.frame()
    wanted = [r.run_id for r in picked]
    del picked
    for record in store.iter_runs(query.ids, query.view, no_datasets, run_ids=wanted):
        builder.add(record)
    position = {run_id: i for i, run_id in enumerate(builder.run_ids)}
    return builder.frame([position[r] for r in wanted if r in position])
