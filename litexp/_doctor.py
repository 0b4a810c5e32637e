"""``litexp.doctor``: check a file store for what MLflow's file store fails on, and repair it.

>>> import litexp
>>> report = litexp.doctor("file:./mlruns")  # doctest: +SKIP
>>> report.ok, [p.kind for p in report.problems]  # doctest: +SKIP
(False, ['torn-metric', 'dead-run'])
>>> litexp.doctor("file:./mlruns", fix=True).ok  # doctest: +SKIP
True

What is checked, and what ``fix=True`` does (it never deletes data; see
:mod:`litexp.store.file.doctor` for the details):

=================  ===================================================================
kind               repair
=================  ===================================================================
stray-folder       a folder that is no experiment (a name MLflow refuses, or no meta.yaml
                   nor runs) moved into ``<root>/.litexp-doctor.trash/`` (MLflow skips it)
experiment-meta    meta.yaml rebuilt, or written when missing in a folder with runs (name
                   kept if it survives, else ``recovered-<id>``)
run-meta           meta.yaml rebuilt from the run folder (status KILLED), old bytes kept
dead-run           a RUNNING run whose process is gone ended KILLED (``litexp stale --end``)
torn-metric        unreadable lines cut out, kept in ``<run>/.litexp-doctor/metrics/<key>.cut``
bad-file           moved to ``<run>/.litexp-doctor/<metrics|params|tags>/<key>``
temp-file          removed when older than an hour (an unfinished write's copy)
damaged-index      removed (a cache, rebuilt by the next search)
duplicate-name     not repaired: the message says how to rename one
=================  ===================================================================

A check without ``fix`` lists what ``fix=True`` would repair (the files of a run whose meta.yaml
would be rebuilt are checked too). A folder that does not look like an mlruns store (neither a
``.trash`` folder nor an experiment's meta.yaml) is refused, checked or fixed. ``litexp doctor``
exits 0 when nothing is (left) wrong, 1 when problems are found and not all repaired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from .errors import InvalidInputError
from .store.file.doctor import Problem
from .store.file.doctor_runs import RunFolder, StoreDoctor

__all__ = ["doctor", "DoctorReport", "Problem", "STALE_AFTER"]

#: A heartbeat older than this (seconds) makes a RUNNING run dead, as ``litexp stale`` judges.
STALE_AFTER = 300.0

Progress = Optional[Callable[[int, Optional[int]], None]]


@dataclass
class DoctorReport:
    """What :func:`doctor` found in a store and, with ``fix``, what it repaired."""

    store: str
    problems: List[Problem] = field(default_factory=list)
    fix: bool = False

    @property
    def ok(self) -> bool:
        """True when no problem is left: none was found, or every one was repaired."""
        return all(p.fixed for p in self.problems)

    @property
    def remaining(self) -> List[Problem]:
        """The problems not repaired."""
        return [p for p in self.problems if not p.fixed]

    def rows(self) -> List[Dict[str, Any]]:
        """One dict per problem, for printing."""
        return [
            {
                "kind": p.kind,
                "experiment_id": p.experiment_id,
                "run_id": p.run_id,
                "message": p.message,
                "fix": p.fix,
                "fixed": p.fixed,
                "path": p.path,
            }
            for p in self.problems
        ]

    def summary(self) -> str:
        """``3 problems in /path/mlruns: 2 repaired, 1 left`` (or ``no problems found in ...``)."""
        if not self.problems:
            return f"no problems found in {self.store}"
        count = f"{len(self.problems)} problem{'' if len(self.problems) == 1 else 's'} in {self.store}"
        left = len(self.remaining)
        if self.fix:
            return f"{count}: {len(self.problems) - left} repaired, {left} left" + (" (see above)" if left else "")
        manual = sum(1 for p in self.problems if p.fix.startswith("none"))
        if manual == left:
            return f"{count}; `litexp doctor --fix` cannot repair {'it' if left == 1 else 'them'}: see above what to do"
        return f"{count}; `litexp doctor --fix` repairs {left - manual}" + (
            f", {manual} need{'s' if manual == 1 else ''} you (see above)" if manual else ""
        )


class _Quiet(logging.Filter):
    """Drops the readers' "skipping ..." warnings while doctor runs: it reports those files itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("litexp: skipping")


def doctor(uri: Optional[str] = None, fix: bool = False, progress: Progress = None) -> DoctorReport:
    """Check a file store for what MLflow's file store fails on (and litexp skips); with ``fix``,
    repair what is safe to repair.

    ``uri``: the store (default ``$MLFLOW_TRACKING_URI``, else ``./mlruns``); it must exist
    (NotFoundError) and look like one: a ``.trash`` folder, or an experiment folder whose
    meta.yaml names an experiment (InvalidInputError otherwise). An MLflow server (``http(s)://``) is refused: its database is checked by the
    server's own tools. ``progress(done, total)`` is called as run folders are checked.

    Checked: stray folders, experiment and run ``meta.yaml`` files, run folders, RUNNING runs whose
    process is gone, metric/param/tag files (in runs that are not running), temporary files,
    search indexes, duplicate experiment names. Without ``fix`` nothing is written, and what the
    repairs would do is listed (as if each one were done). With it, every
    repair keeps what it takes out (see the module documentation); afterwards MLflow reads the
    store. Returns a :class:`DoctorReport`; ``report.ok`` is true when nothing is left to do.
    """
    from .store import split_uri
    from .store.file import FileStore
    from .tables import default_uri, open_manager

    uri = uri or default_uri()
    if split_uri(uri)[0] in ("http", "https"):
        raise InvalidInputError(
            f"doctor checks file stores (mlruns folders) only; {uri} is an MLflow server: its database is "
            "checked with the server's and the database's own tools."
        )
    manager = open_manager(uri)  # NotFoundError when there is no store
    store = manager.store
    if not isinstance(store, FileStore):
        raise InvalidInputError(f"doctor checks file stores (mlruns folders) only; {uri} is not one.")
    quiet = _Quiet()
    logger = logging.getLogger("litexp")
    logger.addFilter(quiet)
    try:
        return _check(manager, store, fix, progress)
    finally:
        logger.removeFilter(quiet)


def _check(manager: Any, store: Any, fix: bool, progress: Progress) -> DoctorReport:
    checks = StoreDoctor(store, fix)
    checks.check_store()
    runs = checks.run_folders()
    total, done = 2 * len(runs), 0
    if progress is not None:
        progress(0, total)
    for run in runs:
        checks.check_run_meta(run)
        done += 1
        if progress is not None:
            progress(done, total)
    dead = _dead_runs(manager, store, checks, runs, fix)
    for run in runs:
        record = run.record
        if record is not None and (record.status != "RUNNING" or dead.get(run.run_id, False)):
            checks.check_run_files(run)
        done += 1
        if progress is not None:
            progress(done, total)
    # a store's problems first, then each experiment's and each run's together, in the order found
    problems = sorted(checks.problems, key=lambda p: (p.experiment_id or "", p.run_id or ""))
    return DoctorReport(store.root, problems, fix)


def _dead_runs(manager: Any, store: Any, checks: StoreDoctor, runs: List[RunFolder], fix: bool) -> Dict[str, bool]:
    """RUNNING runs whose process is gone (``litexp stale``'s rule), as problems; with ``fix`` they
    are ended KILLED (``ExpManager.end_stale_recorders``). Returns run id → whether its data files
    may be checked now (its process is gone and, when fixing, the run was ended)."""
    from .errors import LitexpError
    from .records import ACTIVE
    from .runtime.liveness import stale_reason

    found: Dict[str, Problem] = {}
    for run in runs:
        record = run.record
        if (
            record is None
            or record.status != "RUNNING"
            or record.lifecycle_stage != ACTIVE
            or run.trashed
            or record.experiment_id not in checks.locations
        ):  # its experiment must be readable to end it
            continue
        try:
            heartbeat = store.read_heartbeat(record.run_id)
        except LitexpError:
            heartbeat = None
        reason = stale_reason(record, heartbeat, STALE_AFTER)
        if reason is not None:
            found[record.run_id] = checks.add(
                "dead-run",
                record.experiment_id,
                record.run_id,
                run.path,
                f"the run is still RUNNING but {reason}",
                "end it as KILLED, with its last heartbeat as end time (as `litexp stale --end` does)",
            )
    if not fix or not found:
        return {run_id: not fix for run_id in found}
    experiments = sorted({p.experiment_id for p in found.values() if p.experiment_id is not None})
    try:
        ended = manager.end_stale_recorders(experiments, max_age=STALE_AFTER)
    except LitexpError as exc:
        for problem in found.values():
            problem.fix += f" — not done: {exc}"
        return {run_id: False for run_id in found}
    for run_id, problem in found.items():
        if run_id in ended:
            problem.fixed = True
        else:
            problem.fix += " — not done: it is no longer stale (it ended, or its process answered)"
    for run_id, reason in ended.items():
        if run_id not in found:  # became stale while doctor was running
            try:
                where: Any = store.get_run(run_id).experiment_id, store.run_folder(run_id)
            except LitexpError:
                where = None, ""
            problem = checks.add(
                "dead-run",
                where[0],
                run_id,
                where[1],
                f"the run was still RUNNING but {reason}",
                "end it as KILLED, with its last heartbeat as end time",
            )
            problem.fixed = True
            found[run_id] = problem
    return {run_id: run_id in ended for run_id in found}
