"""The pandas DataFrame ``mlflow.search_runs`` returns, built from run records.

Columns: ``run_id``, ``experiment_id``, ``status``, ``artifact_uri``,
``start_time``, ``end_time`` (UTC datetimes), then ``metrics.<k>``,
``params.<k>`` and ``tags.<k>``. Columns are discovered in the same order as
MLflow discovers them (same set operations), and every column ends up with the
dtype pandas infers for MLflow's per-value construction; the values are
converted column by column, which is much faster for thousands of runs.
pandas is imported only when a frame is built.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..records import RunRecord

__all__ = ["runs_to_frame", "FIXED_COLUMNS"]

FIXED_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def _key_order(mappings: Sequence[Dict[str, Any]]) -> List[str]:
    """Column keys in the order MLflow's ``_add_values`` creates them."""
    order: List[str] = []
    known: set = set()
    for values in mappings:
        if not values:
            continue
        new = set(values.keys()) - known
        if new:
            for key in new:
                order.append(key)
            known |= new
    return order


def _times(values: List[Optional[int]]) -> Any:
    """A column of UTC timestamps from milliseconds, typed as MLflow's per-value list is."""
    import numpy as np
    import pandas as pd

    null = pd.to_datetime(None, unit="ms", utc=True)
    present = [v for v in values if v is not None]
    if not present:
        return [null] * len(values)
    sample = [pd.to_datetime(present[0], unit="ms", utc=True)] + ([null] if len(present) < len(values) else [])
    probe = pd.Series(sample).dtype
    millis = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series(pd.to_datetime(millis, unit="ms", utc=True)).astype(probe).array


def runs_to_frame(records: Sequence[RunRecord]) -> Any:
    """One row per run, in the given order, as ``mlflow.search_runs`` builds it."""
    import numpy as np
    import pandas as pd

    data: Dict[str, Any] = {
        "run_id": [r.run_id for r in records],
        "experiment_id": [r.experiment_id for r in records],
        "status": [r.status for r in records],
        "artifact_uri": [r.artifact_uri for r in records],
        "start_time": _times([r.start_time for r in records]),
        "end_time": _times([r.end_time for r in records]),
    }
    metrics = [r.metrics for r in records]
    params = [r.params for r in records]
    tags = [r.tags for r in records]
    for key in _key_order(metrics):
        data["metrics." + key] = [m.get(key, np.nan) for m in metrics]
    for key in _key_order(params):
        data["params." + key] = [p.get(key) for p in params]
    for key in _key_order(tags):
        data["tags." + key] = [t.get(key) for t in tags]
    return pd.DataFrame(data)
