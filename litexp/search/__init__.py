"""The search layer: MLflow's filter / order_by language over run records.

Nothing here reads files. Callers load :class:`~litexp.store.records.RunRecord`
objects (already restricted to the wanted experiments and view type) and
hand them to :func:`search_runs`; :func:`runs_to_frame` turns the result into
the DataFrame ``mlflow.search_runs`` would return.

Every filter MLflow accepts selects and orders the same runs here; every
filter MLflow rejects is rejected with :class:`~litexp.errors.SearchSyntaxError`
(including mistakes MLflow only notices while matching runs), except for the
documented litexp extensions: ``OR``, ``NOT``, parentheses, ``IS [NOT] NULL``
on metrics and attributes and ``[NOT] IN`` on params and tags. See
``docs/search.md``.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

from ..records import RUN_NAME_TAG, RunRecord, Selection
from ._dialect import RUNS
from ._experiments import filter_experiments, parse_experiment_filter, parse_experiment_order_by
from ._frame import FIXED_COLUMNS, FrameBuilder, runs_to_frame
from ._match import match_experiment, match_run
from ._model import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, Clause, OrderKey, ParsedFilter, ParsedOrder
from ._order import parse_order, sort_runs
from ._paging import check_max_results, make_page_token, paginate, parse_page_token, parse_view_type
from ._parser import parse
from ._pushdown import server_filter

__all__ = [
    "parse_filter",
    "parse_order_by",
    "parse_view_type",
    "search_runs",
    "needed_keys",
    "server_filter",
    "runs_to_frame",
    "FrameBuilder",
    "filter_experiments",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "match_run",
    "match_experiment",
    "sort_runs",
    "parse_page_token",
    "make_page_token",
    "ParsedFilter",
    "ParsedOrder",
    "OrderKey",
    "Clause",
    "FIXED_COLUMNS",
]


def parse_filter(filter_string: Union[str, ParsedFilter, None]) -> ParsedFilter:
    """Parse and check a run filter.

    Raises :class:`~litexp.errors.SearchSyntaxError` for every mistake, with
    the column and what was expected, e.g.
    ``at column 13: expected a quoted string after 'params.lr =', found '0.1'``.
    """
    if isinstance(filter_string, ParsedFilter):
        return filter_string
    return parse(filter_string, RUNS)


def parse_order_by(order_by: Union[Sequence[str], ParsedOrder, None]) -> ParsedOrder:
    """Parse and check a run order_by list such as ``["metrics.loss ASC", "params.lr"]``."""
    if isinstance(order_by, ParsedOrder):
        return order_by
    return parse_order(order_by, RUNS)


def search_runs(
    records: Sequence[RunRecord],
    filter_string: Union[str, ParsedFilter, None] = None,
    order_by: Union[Sequence[str], ParsedOrder, None] = None,
    max_results: Optional[int] = None,
    page_token: Optional[Union[str, bytes]] = None,
) -> Tuple[List[RunRecord], Optional[str]]:
    """Filter, order and page ``records`` like MLflow's ``search_runs``.

    ``max_results=None`` returns every match from the page token on; a number
    is honoured exactly. The second value is the token of the next page, or
    ``None`` when no rows remain.
    """
    parsed = parse_filter(filter_string)
    order = parse_order_by(order_by)
    limit = check_max_results(max_results)
    parse_page_token(page_token)
    root = parsed.root
    matched = [record for record in records if match_run(root, record)] if root is not None else list(records)
    ordered = sort_runs(matched, order)
    return paginate(ordered, page_token, limit)


def needed_keys(parsed_filter: Optional[ParsedFilter] = None, parsed_order: Optional[ParsedOrder] = None) -> Selection:
    """The metric, param and tag keys a filter and order read (and whether datasets are read).

    A loader may skip every other key. ``run_name`` needs the ``mlflow.runName``
    tag, which stands in for an empty run name.
    """
    metrics, params, tags = set(), set(), set()
    datasets = False
    pairs: List[Tuple[str, str]] = []
    if parsed_filter is not None:
        pairs.extend((c.entity, c.key) for c in parsed_filter.clauses)
    if parsed_order is not None:
        pairs.extend((k.entity, k.key) for k in parsed_order.keys)
    for entity, key in pairs:
        if entity == METRIC:
            metrics.add(key)
        elif entity == PARAM:
            params.add(key)
        elif entity == TAG:
            tags.add(key)
        elif entity == DATASET:
            datasets = True
        elif entity == ATTRIBUTE and key == "run_name":
            tags.add(RUN_NAME_TAG)
    return Selection(frozenset(metrics), frozenset(params), frozenset(tags), datasets)
