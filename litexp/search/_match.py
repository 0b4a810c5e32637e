"""Evaluation of a parsed filter against runs and experiments.

Semantics are MLflow's: a run lacking a metric, param or tag, or whose
attribute is null, fails every comparison with it (``!=`` included); only
``IS NULL`` is true for it. Comparisons use Python's operators, so NaN is
unequal to everything and neither smaller nor greater than anything.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Dict, Optional

from ..records import RUN_NAME_TAG, ExperimentRecord, RunRecord
from ._model import DATASET, METRIC, PARAM, TAG, AndNode, Clause, Node, NotNode, OrNode

__all__ = ["match_run", "match_experiment", "run_attribute", "compare"]


_OPERATORS: Dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    "<": operator.lt,
    "IN": lambda lhs, values: lhs in values,
    "NOT IN": lambda lhs, values: lhs not in values,
}


def compare(clause: Clause, lhs: Any) -> bool:
    """Apply ``clause``'s comparator to a present value ``lhs``."""
    if clause.pattern is not None:
        return clause.pattern.match(lhs) is not None
    return bool(_OPERATORS[clause.comparator](lhs, clause.value))


def run_attribute(record: RunRecord, key: str) -> Any:
    """An attribute of a run as MLflow's ``RunInfo`` shows it.

    A run whose ``run_name`` is empty takes its name from the ``mlflow.runName``
    tag, like MLflow's file store does when it reads the run.
    """
    if key == "run_name":
        return record.run_name or record.tags.get(RUN_NAME_TAG) or record.run_name
    return getattr(record, key)


def _clause_matches_run(clause: Clause, record: RunRecord) -> bool:
    entity = clause.entity
    if entity == DATASET:
        key = clause.key
        if key == "context":
            return any(compare(clause, d.context) for d in record.datasets if d.context is not None)
        return any(compare(clause, getattr(d, key)) for d in record.datasets)
    lhs: Optional[Any]
    if entity == METRIC:
        lhs = record.metrics.get(clause.key)
    elif entity == PARAM:
        lhs = record.params.get(clause.key)
    elif entity == TAG:
        lhs = record.tags.get(clause.key)
    else:
        lhs = run_attribute(record, clause.key)
    return _test_value(clause, lhs)


def _clause_matches_experiment(clause: Clause, record: ExperimentRecord) -> bool:
    if clause.entity == TAG:
        lhs = record.tags.get(clause.key)
    else:
        lhs = getattr(record, clause.key)
    return _test_value(clause, lhs)


def _test_value(clause: Clause, lhs: Optional[Any]) -> bool:
    """IS [NOT] NULL tests presence; any other comparator fails on a missing value."""
    comparator = clause.comparator
    if comparator == "IS NULL":
        return lhs is None
    if comparator == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return False
    return compare(clause, lhs)


def _evaluate(node: Node, record: Any, clause_test: Callable[[Clause, Any], bool]) -> bool:
    if isinstance(node, Clause):
        return clause_test(node, record)
    if isinstance(node, AndNode):
        return all(_evaluate(item, record, clause_test) for item in node.items)
    if isinstance(node, OrNode):
        return any(_evaluate(item, record, clause_test) for item in node.items)
    if isinstance(node, NotNode):
        return not _evaluate(node.item, record, clause_test)
    raise TypeError(f"unknown filter node {node!r}")


def match_run(root: Optional[Node], record: RunRecord) -> bool:
    """True when the run satisfies the filter (``None`` matches everything)."""
    return root is None or _evaluate(root, record, _clause_matches_run)


def match_experiment(root: Optional[Node], record: ExperimentRecord) -> bool:
    """True when the experiment satisfies the filter (``None`` matches everything)."""
    return root is None or _evaluate(root, record, _clause_matches_experiment)
