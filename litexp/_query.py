"""Run queries: the search layer applied to what the store loads, reading only what is needed.

A query with a filter, an order or a limit first reads just the keys it
touches, run by run, keeping only the runs the filter matches; then it orders
and pages them and loads the full data of the runs it returns. So memory is
bounded by the result, not by the store.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from .errors import InvalidInputError
from .records import Selection
from .store import RunRecord, TrackingStore


def select_runs(
    store: TrackingStore,
    experiment_ids: Sequence[str],
    filter_string: Optional[str] = None,
    run_view_type: Any = None,
    max_results: Optional[int] = None,
    order_by: Optional[Sequence[str]] = None,
    page_token: Optional[str] = None,
    full: bool = True,
    datasets: bool = True,
) -> Tuple[List[RunRecord], Optional[str]]:
    """The matching runs in order, and the next page token.

    Everything is checked before any run is read. With ``full=False`` the runs
    carry only their meta data and the keys the query used; with
    ``datasets=False`` they carry no dataset inputs (a frame shows none).
    """
    from .search import (match_run, needed_keys, parse_filter, parse_order_by, parse_view_type, search_runs,
                         server_filter)

    if isinstance(order_by, str):
        order_by = [order_by]
    parsed = parse_filter(filter_string)
    order = parse_order_by(order_by)
    view = parse_view_type(run_view_type)
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 0):
        raise InvalidInputError(f"max_results must be a non-negative integer or None, got {max_results!r}.")
    ids = [str(e) for e in experiment_ids]
    everything = None if datasets else Selection(datasets=False)
    if full and parsed.is_empty and max_results is None and page_token is None and not order.keys:
        runs = store.load_runs(ids, view, everything)
        return search_runs(runs, parsed, order, None, None)
    selection = needed_keys(parsed, order)
    # streamed: only the runs the filter keeps are held (with just the keys the query reads)
    loaded = store.iter_runs(ids, view, selection, filter_string=server_filter(parsed))
    root = parsed.root
    kept = [r for r in loaded if match_run(root, r)] if root is not None else list(loaded)
    picked, token = search_runs(kept, None, order, max_results, page_token)
    if not full or not picked or not store.partial_loads:
        return picked, token
    by_id = {r.run_id: r for r in store.load_runs(ids, view, everything, run_ids=[r.run_id for r in picked])}
    return [by_id[r.run_id] for r in picked if r.run_id in by_id], token


def search_frame(store: TrackingStore, experiment_ids: Sequence[str], **kwargs: Any) -> Any:
    """Search runs and return MLflow's ``search_runs`` DataFrame.

    kwargs: ``filter_string``, ``run_view_type``, ``max_results``, ``order_by``, ``page_token``.
    """
    from .search import runs_to_frame

    unknown = set(kwargs) - {"filter_string", "run_view_type", "max_results", "order_by", "page_token"}
    if unknown:
        raise InvalidInputError(f"Unknown search argument(s): {', '.join(sorted(unknown))}.")
    runs, _ = select_runs(store, experiment_ids, datasets=False, **kwargs)
    return runs_to_frame(runs)
