"""Filtering and ordering experiments like MLflow's ``search_experiments``.

Filter identifiers: the attributes ``name``, ``experiment_id``,
``creation_time``, ``last_update_time`` (bare or as ``attribute.<name>``)
and ``tag.<key>`` / ``tags.<key>``. ``experiment_id`` accepts ``IN`` lists.
order_by takes attributes only; ties are broken by ``experiment_id`` DESC,
and the default order is ``creation_time DESC, experiment_id ASC``.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from ..records import ExperimentRecord
from ._dialect import EXPERIMENTS
from ._match import match_experiment
from ._model import ParsedFilter, ParsedOrder
from ._order import parse_order, sort_experiments
from ._parser import parse

__all__ = ["parse_experiment_filter", "parse_experiment_order_by", "filter_experiments"]


def parse_experiment_filter(filter_string: Optional[str]) -> ParsedFilter:
    """Parse and check an experiment filter; raise ``SearchSyntaxError`` on any mistake."""
    return parse(filter_string, EXPERIMENTS)


def parse_experiment_order_by(order_by: Optional[Sequence[str]]) -> ParsedOrder:
    """Parse and check an experiment order_by list."""
    return parse_order(order_by, EXPERIMENTS)


def filter_experiments(
    records: Sequence[ExperimentRecord],
    filter_string: Optional[str] = None,
    order_by: Optional[Sequence[str]] = None,
) -> List[ExperimentRecord]:
    """The experiments matching ``filter_string``, in ``order_by`` order."""
    parsed = parse_experiment_filter(filter_string)
    order = parse_experiment_order_by(order_by)
    kept = [record for record in records if match_experiment(parsed.root, record)]
    return sort_experiments(kept, order)
