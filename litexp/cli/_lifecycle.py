"""``litexp rm`` / ``restore`` (soft delete and undelete of runs and experiments) and ``stale``
(runs whose process is gone).

``rm`` is ``Experiment.delete_recorder`` (the store's ``delete_run``) or, with ``--experiment``,
``ExpManager.delete_exp``; ``restore`` undoes either (``restore_run`` / ``restore_experiment``).
Every name is checked before anything changes: one unknown id and nothing is done.
``stale`` is ``Experiment.list_stale_recorders`` / ``ExpManager.end_stale_recorders``.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Sequence, Tuple

from ..errors import ExpAlreadyExistError, InvalidInputError, NotFoundError
from ..records import ACTIVE, DELETED, ExperimentRecord, RunRecord, ViewType
from ..tables import find_run
from ._common import add_format, add_uri, manager
from ._output import emit

__all__ = ["register", "run_rm", "run_restore", "run_stale"]

DEFAULT_EXPERIMENT_ID = "0"


def register(sub: Any) -> None:
    """Add the verbs to the parser."""
    for verb, func, text in (
        (
            "rm",
            run_rm,
            "delete runs (or, with --experiment, experiments): marked deleted, kept on disk "
            "until `litexp gc`; `litexp restore` undoes it",
        ),
        (
            "restore",
            run_restore,
            "undo `litexp rm`: make deleted runs (or, with --experiment, experiments) active again",
        ),
    ):
        p = sub.add_parser(
            verb,
            help=text,
            description=text[0].upper() + text[1:] + ". Every argument is "
            "checked first: when one is unknown, nothing changes.",
        )
        p.add_argument(
            "items",
            nargs="+",
            metavar="RUN_ID",
            help="run ids (or their first 6 characters or more, as `litexp runs` shows them); with "
            "--experiment, experiment names or ids",
        )
        p.add_argument(
            "--experiment",
            action="store_true",
            help="the arguments are experiments (names or ids), not runs"
            + (
                "; their runs are deleted with them"
                if verb == "rm"
                else "; all their deleted runs come back with them, as with MLflow's file store"
            ),
        )
        add_uri(p)
        p.set_defaults(func=func)

    p = sub.add_parser(
        "stale",
        help="find runs still RUNNING whose process is gone (--end: end them KILLED)",
        description="List RUNNING runs whose process is gone (same host) or whose heartbeat "
        "is older than --max-age; with --end, end them as KILLED with their last "
        "heartbeat as end time (ExpManager.end_stale_recorders).",
    )
    p.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="experiment names or ids (default: every active experiment)",
    )
    p.add_argument(
        "--max-age",
        type=float,
        default=300.0,
        metavar="S",
        help="a heartbeat older than this many seconds counts as stale (default 300)",
    )
    p.add_argument(
        "--include-unknown",
        action="store_true",
        help="also judge runs without a litexp heartbeat (written by MLflow) by their age",
    )
    p.add_argument("--end", action="store_true", help="end the stale runs as KILLED (end time: the last heartbeat)")
    add_uri(p)
    add_format(p)
    p.set_defaults(func=run_stale)


# ---------------------------------------------------------------- rm / restore
def _runs(mgr: Any, run_ids: Sequence[str]) -> List[RunRecord]:
    """Every run named (active or deleted); NotFoundError naming all the unknown ones."""
    found: List[RunRecord] = []
    missing: List[str] = []
    for run_id in run_ids:
        try:
            record = find_run(mgr, run_id)
        except (NotFoundError, InvalidInputError):
            missing.append(run_id)
            continue
        if all(r.run_id != record.run_id for r in found):
            found.append(record)
    if missing:
        raise NotFoundError(
            f"No run {', '.join(repr(m) for m in missing)} in {mgr.uri}; nothing was changed. "
            "A run id is 32 hexadecimal characters, or its first 6 or more (`litexp runs --all --view all` lists them)."
        )
    return found


def _experiments(mgr: Any, keys: Sequence[str]) -> List[ExperimentRecord]:
    from ..tables import resolve_experiments

    try:
        return resolve_experiments(mgr, keys, "all")
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} Nothing was changed.") from None


def _experiment_names(store: Any, records: Sequence[RunRecord]) -> Dict[str, Tuple[str, str]]:
    """Experiment id → (name, lifecycle stage) of the runs' experiments."""
    out: Dict[str, Tuple[str, str]] = {}
    for record in records:
        if record.experiment_id not in out:
            try:
                exp = store.get_experiment(record.experiment_id)
                out[record.experiment_id] = (exp.name, exp.lifecycle_stage)
            except NotFoundError:
                out[record.experiment_id] = (record.experiment_id, ACTIVE)
    return out


def _describe(run: RunRecord, experiments: Dict[str, Tuple[str, str]]) -> str:
    name = f" ({run.run_name})" if run.run_name else ""
    return f"run {run.run_id}{name} of experiment {experiments[run.experiment_id][0]!r}"


def run_rm(args: argparse.Namespace) -> int:
    """``litexp rm``: soft-delete runs, or experiments with ``--experiment``."""
    mgr = manager(args)
    store = mgr.store
    if args.experiment:
        records = _experiments(mgr, args.items)
        default = [r for r in records if r.experiment_id == DEFAULT_EXPERIMENT_ID]
        if default:
            raise InvalidInputError(
                f"The default experiment {default[0].name!r} (id 0) cannot be deleted; nothing was changed."
            )
        for record in records:
            if record.lifecycle_stage == DELETED:
                print(f"experiment {record.name!r} (id {record.experiment_id}) was already deleted")
                continue
            mgr.delete_exp(experiment_id=record.experiment_id)
            print(f"deleted experiment {record.name!r} (id {record.experiment_id}) and its runs")
        return 0
    runs = _runs(mgr, args.items)
    experiments = _experiment_names(store, runs)
    for run in runs:
        if run.lifecycle_stage == DELETED:
            print(f"{_describe(run, experiments)} was already deleted")
            continue
        store.delete_run(run.run_id)
        print(f"deleted {_describe(run, experiments)}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """``litexp restore``: undo ``litexp rm`` for runs, or experiments with ``--experiment``."""
    mgr = manager(args)
    store = mgr.store
    if args.experiment:
        records = _experiments(mgr, args.items)
        active = {r.name for r in store.list_experiments(ViewType.ACTIVE_ONLY)}
        clashes = [r for r in records if r.lifecycle_stage == DELETED and r.name in active]
        if clashes:
            raise ExpAlreadyExistError(
                f"Cannot restore {', '.join(f'{r.name!r} (id {r.experiment_id})' for r in clashes)}: an active "
                "experiment has that name; nothing was changed. Rename or delete the active one first."
            )
        for record in records:
            if record.lifecycle_stage != DELETED:
                print(f"experiment {record.name!r} (id {record.experiment_id}) is not deleted")
                continue
            store.restore_experiment(record.experiment_id)
            print(f"restored experiment {record.name!r} (id {record.experiment_id}) and its runs")
        return 0
    runs = _runs(mgr, args.items)
    experiments = _experiment_names(store, runs)
    trashed = [r for r in runs if r.lifecycle_stage == DELETED and experiments[r.experiment_id][1] == DELETED]
    if trashed:
        ids = sorted({r.experiment_id for r in trashed})
        raise InvalidInputError(
            f"Run {', '.join(r.run_id for r in trashed)} belongs to deleted experiment "
            f"{', '.join(repr(experiments[i][0]) for i in ids)}; nothing was changed. Restore the experiment: "
            f"`litexp restore --experiment {' '.join(ids)}`."
        )
    for run in runs:
        if run.lifecycle_stage != DELETED:
            print(f"{_describe(run, experiments)} is not deleted")
            continue
        store.restore_run(run.run_id)
        print(f"restored {_describe(run, experiments)}")
    return 0


# ---------------------------------------------------------------- stale
def run_stale(args: argparse.Namespace) -> int:
    """``litexp stale``: RUNNING runs whose process is gone; ``--end`` ends them KILLED."""
    from ..tables import resolve_experiments

    mgr = manager(args)
    store = mgr.store
    if args.max_age < 0:
        raise InvalidInputError(f"--max-age must be a number of seconds (0 or more), not {args.max_age:g}.")
    if args.experiments:
        records = resolve_experiments(mgr, args.experiments, "active")
    else:
        records = store.list_experiments(ViewType.ACTIVE_ONLY)
    names = {r.experiment_id: r.name for r in records}
    found: Dict[str, str] = {}
    if args.end:
        found = mgr.end_stale_recorders(list(names), max_age=args.max_age, include_unknown=args.include_unknown)
    else:
        for record in records:
            experiment = mgr.get_exp(experiment_id=record.experiment_id, create=False)
            found.update(experiment.list_stale_recorders(args.max_age, args.include_unknown))
    rows = []
    for run_id, reason in found.items():
        try:
            run = store.get_run(run_id)
            run_name, exp_id = run.run_name, run.experiment_id
        except NotFoundError:
            run_name, exp_id = "", ""
        row = {
            "run_id": run_id,
            "run_name": run_name,
            "experiment_id": exp_id,
            "experiment": names.get(exp_id, ""),
            "reason": reason,
        }
        if args.end:
            row["ended"] = "KILLED"
        rows.append(row)
    columns = ["run_id", "run_name", "experiment_id", "experiment", "reason"] + (["ended"] if args.end else [])
    emit(rows, args.format, args.wide, empty="no stale runs", columns=columns)
    return 0
