"""The tables the ``litexp`` command prints, as pandas DataFrames (or a dict for one run).

Every function takes the store's URI first (``None``: ``$MLFLOW_TRACKING_URI``, else
``./mlruns``); none of them creates or changes anything.

>>> from litexp import tables
>>> tables.runs(None, ["alpha"], filter_string="metrics.ic > 0.02", columns=["metrics.*"])  # doctest: +SKIP

- :func:`experiments` — one row per experiment;
- :func:`runs` — ``search_records``' frame of one, several or every experiment, optionally
  with chosen columns and a ``lifecycle_stage`` column;
- :func:`run_details` — one run: info, params, latest metrics, tags, artifact tree;
- :func:`diff` — params, metrics and tags of several runs side by side;
- :func:`history` — every point of one metric;
- :func:`artifacts` — the artifact files under a path.

Unknown experiments and runs raise :class:`~litexp.errors.NotFoundError` naming them.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from .errors import InvalidInputError, NotFoundError
from .manager import ExpManager, FileExpManager
from .records import ACTIVE, DEFAULT_STORE_FOLDER, DELETED, ExperimentRecord, RunRecord, ViewType

__all__ = [
    "default_uri",
    "open_manager",
    "resolve_experiments",
    "experiments",
    "runs",
    "select_columns",
    "run_details",
    "find_run",
    "diff",
    "history",
    "artifacts",
    "VIEWS",
]

#: ``view`` names → MLflow's view types.
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
#: Short names ``--columns`` also takes (the tables show them).
COLUMN_ALIASES = {"run_name": "tags.mlflow.runName"}
EXPERIMENT_COLUMNS = (
    "experiment_id",
    "name",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
    "artifact_location",
)


def default_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` when set, else ``./mlruns``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or "./" + DEFAULT_STORE_FOLDER


def open_manager(uri: Optional[str] = None) -> ExpManager:
    """The experiment manager of an existing store (NotFoundError when there is none)."""
    manager = FileExpManager(uri or default_uri(), "Default")
    _ = manager.store  # raises NotFoundError naming a missing store
    return manager


def _view(view: Union[str, int]) -> int:
    if isinstance(view, int) and view in VIEWS.values():
        return view
    found = VIEWS.get(str(view).lower())
    if found is None:
        raise InvalidInputError(f"Unknown view {view!r}: use one of {', '.join(VIEWS)}.")
    return found


def _manager(uri: Union[str, ExpManager, None]) -> ExpManager:
    return uri if isinstance(uri, ExpManager) else open_manager(uri)


def _ms_to_time(ms: Optional[int]) -> Any:
    import pandas as pd

    return pd.NaT if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC")


def resolve_experiments(
    uri: Union[str, ExpManager, None], keys: Sequence[str], view: Union[str, int] = "all"
) -> List[ExperimentRecord]:
    """The experiments named by ``keys``: each a name (first) or an id, in the view's lifecycle
    stages; NotFoundError names the missing ones (and says which exist but are deleted)."""
    store = _manager(uri).store
    wanted = _view(view)
    found: List[ExperimentRecord] = []
    missing: List[str] = []
    deleted: List[str] = []
    for key in keys:
        key = str(key)
        record = store.find_experiment(key, ViewType.ALL)
        if record is None:
            try:
                record = store.get_experiment(key)
            except (NotFoundError, InvalidInputError):
                record = None
        if record is None:
            missing.append(key)
        elif record.lifecycle_stage not in ViewType.stages(wanted):
            deleted.append(key)
        elif all(r.experiment_id != record.experiment_id for r in found):
            found.append(record)
    if missing or deleted:
        problems = []
        if missing:
            problems.append(
                f"No experiment named or numbered {', '.join(repr(m) for m in missing)} in {_manager(uri).uri}"
            )
        if deleted:
            problems.append(
                f"experiment {', '.join(repr(d) for d in deleted)} is deleted (`litexp restore --experiment NAME` "
                "brings it back; `--view all` includes deleted ones where a verb has it)"
            )
        message = "; ".join(problems)
        raise NotFoundError(
            message[0].upper() + message[1:] + ("; `litexp experiments --view all` lists them." if missing else ".")
        )
    return found


def experiments(
    uri: Union[str, ExpManager, None] = None,
    view: Union[str, int] = "active",
    filter_string: Optional[str] = None,
    order_by: Optional[Sequence[str]] = None,
) -> Any:
    """One row per experiment: id, name, lifecycle stage, times (UTC), artifact location, ``tags.*``.

    Newest first unless ``order_by`` (MLflow's ``search_experiments`` language, as is ``filter_string``).
    """
    import pandas as pd

    from .search import filter_experiments

    store = _manager(uri).store
    records = filter_experiments(
        store.list_experiments(_view(view)), filter_string, list(order_by) if order_by else None
    )
    tag_keys = sorted({k for r in records for k in r.tags})
    data: Dict[str, Any] = {
        "experiment_id": [r.experiment_id for r in records],
        "name": [r.name for r in records],
        "lifecycle_stage": [r.lifecycle_stage for r in records],
        "creation_time": pd.Series([_ms_to_time(r.creation_time) for r in records], dtype="datetime64[ns, UTC]"),
        "last_update_time": pd.Series([_ms_to_time(r.last_update_time) for r in records], dtype="datetime64[ns, UTC]"),
        "artifact_location": [r.artifact_location for r in records],
    }
    for key in tag_keys:
        data["tags." + key] = [r.tags.get(key) for r in records]
    return pd.DataFrame(data)


def select_columns(frame: Any, patterns: Optional[Sequence[str]]) -> Any:
    """``frame`` with only the columns matching the globs (``metrics.*``, ``params.lr``), in the
    order of the patterns; ``run_id`` always first. Unknown exact names raise InvalidInputError."""
    if not patterns:
        return frame
    chosen: List[str] = ["run_id"] if "run_id" in frame.columns else []
    for pattern in patterns:
        pattern = COLUMN_ALIASES.get(pattern.strip(), pattern.strip())
        if not pattern:
            continue
        matches = [c for c in frame.columns if fnmatch.fnmatchcase(c, pattern)]
        if not matches and len(frame):
            raise InvalidInputError(f"No column matches {pattern!r}; the columns are: {', '.join(frame.columns)}.")
        chosen += [c for c in matches if c not in chosen]
    return frame[chosen]


def runs(
    uri: Union[str, ExpManager, None] = None,
    experiments: Optional[Sequence[str]] = None,
    all_experiments: bool = False,
    filter_string: Optional[str] = None,
    order_by: Optional[Sequence[str]] = None,
    max_results: Optional[int] = None,
    columns: Optional[Sequence[str]] = None,
    view: Union[str, int] = "active",
) -> Any:
    """``search_records``' frame over ``experiments`` (names or ids; with ``all_experiments`` or
    none given: every active experiment), plus ``lifecycle_stage`` (after ``status``) when the
    view includes deleted runs; ``columns`` are globs (:func:`select_columns`)."""
    manager = _manager(uri)
    view_type = _view(view)
    if experiments and all_experiments:
        raise InvalidInputError("Name experiments or search them all (--all), not both.")
    # a view with deleted runs also takes deleted experiments (their runs are deleted with them)
    experiment_view = ViewType.ACTIVE_ONLY if view_type == ViewType.ACTIVE_ONLY else ViewType.ALL
    if experiments:
        ids = [r.experiment_id for r in resolve_experiments(manager, experiments, experiment_view)]
    else:
        ids = [r.experiment_id for r in manager.store.list_experiments(experiment_view)]
    if max_results is not None and max_results < 1:
        raise InvalidInputError(f"max_results must be a positive number, not {max_results}.")
    frame = manager.search_records(
        ids,
        filter_string=filter_string,
        order_by=list(order_by) if order_by else None,
        max_results=max_results,
        run_view_type=view_type,
    )
    if view_type != ViewType.ACTIVE_ONLY:
        store = manager.store
        deleted = set()
        for exp_id in ids:
            deleted.update(store.list_run_ids(exp_id, ViewType.DELETED_ONLY))
        stages = [DELETED if run_id in deleted else ACTIVE for run_id in frame["run_id"]]
        frame.insert(list(frame.columns).index("status") + 1, "lifecycle_stage", stages)
    return select_columns(frame, columns)


#: The shortest prefix of a run id that :func:`find_run` looks up (tables show 8 characters).
MIN_PREFIX = 6
_HEX = frozenset("0123456789abcdef")


def find_run(uri: Union[str, ExpManager, None], run_id: str) -> RunRecord:
    """The run with this id (active or deleted), or with the only id that starts with it (at
    least :data:`MIN_PREFIX` hexadecimal characters, as the tables show ids); NotFoundError names
    it, InvalidInputError lists the runs an ambiguous prefix matches."""
    manager = _manager(uri)
    store = manager.store
    key = str(run_id).strip().lower()
    if len(key) < 32 and len(key) >= MIN_PREFIX and set(key) <= _HEX:
        matches = [
            found
            for experiment in store.list_experiments(ViewType.ALL)
            for found in store.list_run_ids(experiment.experiment_id, ViewType.ALL)
            if found.startswith(key)
        ]
        if len(matches) > 1:
            raise InvalidInputError(
                f"Run id {run_id!r} is the start of {len(matches)} runs ({', '.join(sorted(matches)[:5])}"
                f"{', ...' if len(matches) > 5 else ''}); give more of it."
            )
        if matches:
            key = matches[0]
    try:
        return store.get_run(key)
    except NotFoundError:
        if len(key) < 32:
            raise NotFoundError(
                f"No run {run_id!r} in {manager.uri}: give a run id (32 hexadecimal characters) or its first "
                f"{MIN_PREFIX} or more, as `litexp runs` shows them."
            ) from None
        raise
    except InvalidInputError:
        raise NotFoundError(
            f"No run {run_id!r} in {manager.uri}: give a run id (32 hexadecimal characters) or its first "
            f"{MIN_PREFIX} or more, as `litexp runs` shows them."
        ) from None


def _artifact_rows(store: Any, run_id: str, path: Optional[str], recursive: bool) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    pending = [path]
    while pending:
        here = pending.pop(0)
        for entry in store.list_artifacts(run_id, here):
            rows.append({"path": entry.path, "is_dir": entry.is_dir, "size": entry.file_size})
            if entry.is_dir and recursive:
                pending.append(entry.path)
    rows.sort(key=lambda r: r["path"])
    return rows


def run_details(uri: Union[str, ExpManager, None], run_id: str) -> Dict[str, Any]:
    """One run: ``info`` (ids, name, status, lifecycle, times, artifact URI), ``params``,
    ``metrics`` (latest values), ``tags`` (each sorted by key) and ``artifacts`` (every file)."""
    manager = _manager(uri)
    run = find_run(manager, run_id)
    store = manager.store
    experiment = store.get_experiment(run.experiment_id)
    info = {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "experiment_id": run.experiment_id,
        "experiment_name": experiment.name,
        "status": run.status,
        "lifecycle_stage": run.lifecycle_stage,
        "user_id": run.user_id,
        "start_time": _ms_to_time(run.start_time),
        "end_time": _ms_to_time(run.end_time),
        "artifact_uri": run.artifact_uri,
    }
    return {
        "info": info,
        "params": dict(sorted(run.params.items())),
        "metrics": dict(sorted(run.metrics.items())),
        "tags": dict(sorted(run.tags.items())),
        "artifacts": _artifact_rows(store, run.run_id, None, recursive=True),
    }


def diff(uri: Union[str, ExpManager, None], run_ids: Sequence[str], all_keys: bool = False) -> Any:
    """Params, metrics and tags of runs side by side: one row per key (``params.lr``), one
    column per run (its id); only keys whose values differ unless ``all_keys``."""
    import pandas as pd

    if len(run_ids) < 2:
        raise InvalidInputError("diff needs two runs or more.")
    manager = _manager(uri)
    found = [find_run(manager, r) for r in run_ids]
    keys: List[str] = []
    values: List[List[Any]] = []
    for prefix, attr in (("metrics.", "metrics"), ("params.", "params"), ("tags.", "tags")):
        names = sorted({k for run in found for k in getattr(run, attr)})
        for name in names:
            row = [getattr(run, attr).get(name) for run in found]
            if all_keys or not _same(row):
                keys.append(prefix + name)
                values.append(row)
    columns = []
    for run in found:
        columns.append(run.run_id if run.run_id not in columns else run.run_id + "'")
    frame = pd.DataFrame(values, columns=columns, dtype=object)
    frame.insert(0, "key", keys)
    return frame


def _same(row: Sequence[Any]) -> bool:
    first = row[0]
    for value in row[1:]:
        if value != first and not (
            isinstance(value, float) and isinstance(first, float) and value != value and first != first
        ):
            return False
    return True


def history(uri: Union[str, ExpManager, None], run_id: str, metric: str) -> Any:
    """Every point of one metric of a run: ``step``, ``value``, ``timestamp`` (UTC), in logged order."""
    import pandas as pd

    manager = _manager(uri)
    run = find_run(manager, run_id)
    points = manager.store.get_metric_history(run.run_id, metric)
    if not points and metric not in run.metrics:
        known = ", ".join(sorted(run.metrics)) or "none"
        raise NotFoundError(f"Run {run.run_id} has no metric {metric!r} (its metrics: {known}).")
    return pd.DataFrame(
        {
            "step": pd.Series([p.step for p in points], dtype="int64"),
            "value": pd.Series([p.value for p in points], dtype="float64"),
            "timestamp": pd.Series([_ms_to_time(p.timestamp) for p in points], dtype="datetime64[ns, UTC]"),
        }
    )


def artifacts(
    uri: Union[str, ExpManager, None], run_id: str, path: Optional[str] = None, recursive: bool = True
) -> Any:
    """The artifacts of a run under ``path`` (default: all; a file: that file): ``path``,
    ``is_dir``, ``size`` (bytes). NotFoundError when ``path`` is not one of the run's artifacts."""
    import pandas as pd

    manager = _manager(uri)
    run = find_run(manager, run_id)
    store = manager.store
    if path:
        path = path.strip("/")
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        entry = next((e for e in store.list_artifacts(run.run_id, parent) if e.path == path), None)
        if entry is None:
            raise NotFoundError(
                f"Run {run.run_id} has no artifact {path!r} (`litexp artifacts {run.run_id[:8]}` lists them)."
            )
        if not entry.is_dir:
            return pd.DataFrame(
                [{"path": entry.path, "is_dir": False, "size": entry.file_size}], columns=["path", "is_dir", "size"]
            )
    rows = _artifact_rows(store, run.run_id, path, recursive)
    return pd.DataFrame(rows, columns=["path", "is_dir", "size"])
