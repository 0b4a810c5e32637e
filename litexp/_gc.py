"""``litexp.gc``: remove deleted runs and experiments for good, as ``mlflow gc`` does for a file store.

>>> import litexp
>>> litexp.gc("file:./mlruns", older_than="30d", dry_run=True).summary()  # doctest: +SKIP
'would remove 12 runs and 1 experiment (48.2 MB)'

What is removed (MLflow's rules): every run whose lifecycle stage is ``deleted`` and whose
``deleted_time`` is at least ``older_than`` ago (a run without one always qualifies), in active
and deleted experiments; every deleted experiment (in ``.trash``) whose ``last_update_time`` (the
time it was deleted) is more than ``older_than`` ago, with all its runs. Without ``older_than``,
everything deleted. Artifacts a run keeps outside its folder go too when they are a local folder
that names the run (other artifact stores are reported, not touched).

Each removal is decided again at the moment it happens, under the store lock: a run restored (or
deleted again later) meanwhile is kept and reported. See :mod:`litexp.store.file.purge`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Union

from .errors import InvalidInputError, LitexpError, NotFoundError, StorageError
from .records import ViewType

__all__ = ["gc", "GcItem", "GcReport", "parse_duration"]

#: MLflow's ``--older-than`` syntax: ``#d#h#m#s``, each part optional, decimals allowed.
DURATION = re.compile(r"^((?P<days>[.\d]+?)d)?((?P<hours>[.\d]+?)h)?((?P<minutes>[.\d]+?)m)?((?P<seconds>[.\d]+?)s)?$")


def parse_duration(text: Union[str, float, int]) -> float:
    """Seconds of a duration written as ``mlflow gc --older-than`` takes it (``30d``,
    ``1d2h3m4s``, ``1.5h``), or a plain number of seconds."""
    seconds: Optional[float] = None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        spelled = str(text).strip().lower()
        match = DURATION.match(spelled)
        try:
            if spelled and match is not None and any(match.groupdict().values()):
                parts = {name: float(value) for name, value in match.groupdict().items() if value}
                seconds = timedelta(**parts).total_seconds()
            elif spelled:
                seconds = float(spelled)
        except (ValueError, OverflowError):
            seconds = None
        if seconds is None:
            raise InvalidInputError(
                f"Cannot read the duration {text!r}: write it like 30d, 8h, 2d8h5m20s or "
                "90s (days, hours, minutes, seconds), or a number of seconds."
            )
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInputError(f"The duration {text!r} is not a length of time; give how long ago, such as 30d.")
    return seconds


@dataclass
class GcItem:
    """One thing removed (or that would be): a run folder, an experiment, artifacts kept elsewhere."""

    kind: str  # "run", "experiment" or "artifacts"
    experiment_id: str
    run_id: Optional[str]
    path: str
    bytes: int
    name: Optional[str] = None  # the run's or experiment's name, when known
    deleted_time: Optional[int] = None  # ms: the run's deleted_time, the experiment's last_update_time


@dataclass
class GcReport:
    """What :func:`gc` removed (with ``dry_run``: would remove), and what it kept and why."""

    items: List[GcItem] = field(default_factory=list)
    dry_run: bool = False
    kept: List[str] = field(default_factory=list)  # removals given up: restored meanwhile, ...
    failed: List[str] = field(default_factory=list)  # removals the file system refused
    notes: List[str] = field(default_factory=list)  # artifacts left where they are

    @property
    def runs(self) -> int:
        return sum(1 for i in self.items if i.kind == "run")

    @property
    def experiments(self) -> int:
        return sum(1 for i in self.items if i.kind == "experiment")

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    @property
    def ok(self) -> bool:
        return not self.failed

    def rows(self) -> List[Dict[str, Any]]:
        """One dict per item, for printing."""
        return [
            {
                "kind": i.kind,
                "experiment_id": i.experiment_id,
                "run_id": i.run_id,
                "name": i.name,
                "deleted_time": i.deleted_time,
                "bytes": i.bytes,
                "path": i.path,
            }
            for i in self.items
        ]

    def summary(self) -> str:
        """``removed 3 runs and 1 experiment (1.2 MB)``."""
        verb = "would remove" if self.dry_run else "removed"
        text = (
            f"{verb} {_count(self.runs, 'run')} and {_count(self.experiments, 'experiment')} "
            f"({format_bytes(self.bytes)})"
        )
        if self.kept:
            text += f"; kept {len(self.kept)} that changed meanwhile"
        if self.failed:
            text += f"; {len(self.failed)} could not be removed"
        return text + ("; dry run, nothing removed" if self.dry_run else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def format_bytes(n: float) -> str:
    """``532 B``, ``1.2 MB``."""
    units = ("B", "KB", "MB", "GB", "TB")
    value, unit = float(n), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {units[unit]}"


def _is_local(uri: str) -> bool:
    return uri.startswith("file:") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", uri) is None


def gc(
    uri: Optional[str] = None,
    older_than: Union[float, str, None] = None,
    dry_run: bool = False,
    experiment_ids: Optional[Sequence[str]] = None,
    progress: Optional[Callable[[int, Optional[int]], None]] = None,
) -> GcReport:
    """Permanently remove the deleted runs and deleted experiments of a file store.

    ``uri``: the store (default ``$MLFLOW_TRACKING_URI``, else ``./mlruns``). ``older_than``:
    only what was deleted at least that long ago, in seconds or as ``mlflow gc --older-than``
    writes it (``30d``, ``1d2h``); None: everything deleted. ``dry_run``: list, remove nothing.
    ``experiment_ids``: only in these experiments (their deleted runs; the experiments themselves
    when deleted). ``progress(done, total)`` is called as removals go.

    An MLflow server (``http(s)://``) is refused: its runs are removed on the server with
    ``mlflow gc --backend-store-uri <its database>``.
    """
    from .store import open_store, split_uri
    from .tables import default_uri

    uri = uri or default_uri()
    scheme, _ = split_uri(uri)
    if scheme in ("http", "https"):
        raise InvalidInputError(
            f"litexp gc removes runs from a file store; {uri} is an MLflow server. Its deleted runs are "
            "removed on the server: `mlflow gc --backend-store-uri <the server's database>`."
        )
    older_ms = None if older_than is None else int(round(parse_duration(older_than) * 1000))
    store = open_store(uri)
    scope = _scope(store, experiment_ids)
    report = GcReport(dry_run=dry_run)

    leftovers = store.finish_purges(dry_run=True)
    now = int(time.time() * 1000)
    experiments = [
        e
        for e in store.list_experiments(ViewType.DELETED_ONLY)
        if (scope is None or e.experiment_id in scope) and _experiment_due(e.last_update_time, older_ms, now)
    ]
    whole = {e.experiment_id for e in experiments}
    runs = [
        r
        for r in store.deleted_runs(older_ms, sorted(scope) if scope is not None else None)
        if r.experiment_id not in whole
    ]
    total = len(leftovers) + len(runs) + len(experiments)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    if leftovers:
        try:
            finished = leftovers if dry_run else store.finish_purges(dry_run=False)
        except StorageError as exc:
            report.failed.append(str(exc))
            finished = []
        report.items += [GcItem(*row) for row in finished]
        for _ in leftovers:
            step()
    for run in runs:
        _collect(
            report,
            partial(store.purge_run, run.run_id, older_ms, dry_run),
            {run.run_id: run.run_name},
            {run.run_id: run.deleted_time},
        )
        if run.artifact_uri and not _is_local(run.artifact_uri):
            report.notes.append(
                f"Artifacts of run {run.run_id} at {run.artifact_uri} are not a local folder; they were left there."
            )
        step()
    for experiment in experiments:
        members = store.deleted_runs(None, [experiment.experiment_id])
        names: Dict[str, Optional[str]] = {r.run_id: r.run_name for r in members}
        times: Dict[str, Optional[int]] = {r.run_id: r.deleted_time for r in members}
        names[""] = experiment.name
        times[""] = experiment.last_update_time
        _collect(report, partial(store.purge_experiment, experiment.experiment_id, older_ms, dry_run), names, times)
        for r in members:
            if r.artifact_uri and not _is_local(r.artifact_uri):
                report.notes.append(
                    f"Artifacts of run {r.run_id} at {r.artifact_uri} are not a local folder; they were left there."
                )
        step()
    return report


def _experiment_due(last_update_time: Any, older_ms: Optional[int], now: int) -> bool:
    """MLflow's rule: with an age, the experiment was last updated (deleted) before now minus it."""
    if older_ms is None:
        return True
    try:
        return last_update_time is not None and int(last_update_time) < now - older_ms
    except (TypeError, ValueError):
        return False


def _scope(store: Any, experiment_ids: Optional[Sequence[str]]) -> Optional[Set[str]]:
    """The experiment ids asked for, each checked to exist (active or deleted)."""
    if experiment_ids is None:
        return None
    if isinstance(experiment_ids, (str, int)):
        experiment_ids = [str(experiment_ids)]
    missing = []
    for exp_id in experiment_ids:
        try:
            store.get_experiment(str(exp_id))
        except (NotFoundError, InvalidInputError):
            missing.append(str(exp_id))
    if missing:
        raise NotFoundError(
            f"No experiment with id {', '.join(repr(m) for m in missing)} in the store; "
            "`litexp experiments --view all` lists them."
        )
    return {str(e) for e in experiment_ids}


def _collect(
    report: GcReport, remove: Callable[[], List[Any]], names: Dict[str, Optional[str]], times: Dict[str, Optional[int]]
) -> None:
    """Run one removal; its rows become items (named from ``names``, "" for the experiment)."""
    try:
        rows = remove()
    except (NotFoundError, InvalidInputError) as exc:  # restored, deleted again, removed by another gc
        report.kept.append(str(exc))
        return
    except LitexpError as exc:  # the file system refused (the message says what is left), a lock timed out
        report.failed.append(str(exc))
        return
    for kind, experiment_id, run_id, path, size in rows:
        key = run_id if kind in ("run", "artifacts") else ""
        report.items.append(
            GcItem(kind, experiment_id, run_id, path, size, names.get(key or ""), _ms(times.get(key or "")))
        )


def _ms(value: Any) -> Optional[int]:
    try:
        return None if value is None else int(float(value))
    except (TypeError, ValueError):
        return None
