"""The pandas DataFrame ``mlflow.search_runs`` returns, built from run records.

Columns: ``run_id``, ``experiment_id``, ``status``, ``artifact_uri``,
``start_time``, ``end_time`` (UTC datetimes), then ``metrics.<k>``,
``params.<k>`` and ``tags.<k>``, each group sorted by key (MLflow's order varies between
processes; this one does not), and every column ends up with the
dtype pandas infers for MLflow's per-value construction; the values are
converted column by column, which is much faster for thousands of runs.
pandas is imported only when a frame is built.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, cast

from ..records import RunRecord

__all__ = ["runs_to_frame", "FrameBuilder", "FIXED_COLUMNS"]

FIXED_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def _key_order(mappings: Sequence[Any]) -> List[str]:
    """Every key of the runs' mappings, sorted: the same column order in every process (MLflow's
    own order follows set iteration, which varies with ``PYTHONHASHSEED``)."""
    known: Set[str] = set()
    for values in mappings:
        if values:
            known.update(values)
    return sorted(known)


def _times(values: List[Optional[int]]) -> Any:
    """A column of UTC timestamps from milliseconds, typed as MLflow's per-value list is."""
    import numpy as np
    import pandas as pd

    null = pd.to_datetime(cast(Any, None), unit="ms", utc=True)  # pandas-stubs omit None; pandas takes it
    present = [v for v in values if v is not None]
    if not present:
        return [null] * len(values)
    sample = [pd.to_datetime(present[0], unit="ms", utc=True)] + ([null] if len(present) < len(values) else [])
    probe = pd.Series(sample).dtype
    millis = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series(pd.to_datetime(millis, unit="ms", utc=True)).astype(probe).array


class FrameBuilder:
    """Builds the frame of :func:`runs_to_frame` from runs added one at a time.

    Only the values of each run are kept (column-wise, strings shared), not the
    run records, so a caller streaming runs holds about what the frame will. The
    row order is given at the end (:meth:`frame`); rows are in the order added
    otherwise.
    """

    def __init__(self) -> None:
        self.run_ids: List[str] = []
        self._fixed: List[List[Any]] = [[], [], [], [], []]  # experiment_id, status, artifact_uri, start, end
        self._keys: List[Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]] = []
        self._shared: Dict[Any, Any] = {}
        # kind → key → (rows, values): only the rows that have the key
        self._cells: Tuple[Dict[str, Tuple[Any, Any]], ...] = ({}, {}, {})

    def __len__(self) -> int:
        return len(self.run_ids)

    def add(self, record: RunRecord) -> None:
        shared = self._shared.setdefault
        row = len(self.run_ids)
        self.run_ids.append(record.run_id)
        fixed = self._fixed
        fixed[0].append(shared(record.experiment_id, record.experiment_id))
        fixed[1].append(shared(record.status, record.status))
        fixed[2].append(record.artifact_uri)
        fixed[3].append(record.start_time)
        fixed[4].append(record.end_time)
        keys = []
        sources: Tuple[Dict[str, Any], ...] = (record.metrics, record.params, record.tags)
        for cells, values in zip(self._cells, sources):
            names = tuple(values)
            keys.append(shared(names, names))
            for key, value in values.items():
                cell = cells.get(key)
                if cell is None:
                    # metric values packed as doubles: no float object is kept per value
                    cell = cells[key] = (array("i"), array("d") if cells is self._cells[0] else [])
                cell[0].append(row)
                cell[1].append(value)
        self._keys.append(tuple(keys))

    def default_order(self) -> List[int]:
        """Rows in MLflow's default order: newest start first, then by run id."""
        starts, ids = self._fixed[3], self.run_ids
        return sorted(range(len(ids)), key=lambda i: (-starts[i] if starts[i] is not None else math.inf, ids[i]))

    def frame(self, order: Optional[Sequence[int]] = None) -> Any:
        """The DataFrame, rows in ``order`` (positions in the order added; default: as added)."""
        import numpy as np
        import pandas as pd

        rows = list(range(len(self.run_ids))) if order is None else list(order)
        if not rows:  # as MLflow builds it: empty lists
            return pd.DataFrame({name: [] for name in FIXED_COLUMNS})
        where = array("i", [0]) * len(self.run_ids)
        for position, row in enumerate(rows):
            where[row] = position
        fixed = self._fixed
        n = len(rows)
        # each column becomes a pandas Series at once, and what built it is dropped (memory stays
        # near the frame's own)
        data: Dict[str, Any] = {"run_id": pd.Series([self.run_ids[i] for i in rows])}
        for name, values in zip(("experiment_id", "status", "artifact_uri"), fixed[:3]):
            data[name] = pd.Series([values[i] for i in rows])
        data["start_time"] = pd.Series(_times([fixed[3][i] for i in rows]))
        data["end_time"] = pd.Series(_times([fixed[4][i] for i in rows]))
        self.run_ids, self._fixed = [], [[], [], [], [], []]
        for kind, prefix in enumerate(("metrics.", "params.", "tags.")):
            cells = self._cells[kind]
            for key in _key_order([self._keys[i][kind] for i in rows]):
                found, values = cells.pop(key)
                column: Any
                if kind == 0:
                    column = np.full(n, np.nan)
                    column[np.frombuffer(where, dtype=np.int32)[np.frombuffer(found, dtype=np.int32)]] = np.frombuffer(
                        values, dtype=np.float64
                    )
                else:
                    column = [None] * n
                    for row, value in zip(found, values):
                        column[where[row]] = value
                data[prefix + key] = pd.Series(column)
        return pd.DataFrame(data)


def runs_to_frame(records: Sequence[RunRecord]) -> Any:
    """One row per run, in the given order, as ``mlflow.search_runs`` builds it."""
    builder = FrameBuilder()
    for record in records:
        builder.add(record)
    return builder.frame()
