"""The run checks of ``litexp doctor`` (see :mod:`.doctor`): a run's meta.yaml (rebuilt from the
folder when damaged), its temporary files, and its metric, param and tag files (cut or moved into
the run's :data:`~.doctor.RUN_ASIDE` folder). :class:`StoreDoctor` is :class:`~.doctor.StoreChecks`
(the root and the experiments) with these checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ...errors import LitexpError
from ...records import DELETED, INT_TO_STATUS, RUN_NAME_TAG, STATUS_TO_INT, USER_TAG, RunRecord
from ..validation import validate_run_id
from . import fs
from . import metric_lines as lines
from .doctor import (
    RUN_ASIDE,
    StoreChecks,
    _int,
    _is_temp,
    _key_file_problem,
    _move,
    _scalars,
    _stage,
    _text,
    one_line,
    parse_meta,
)
from .layout import ARTIFACTS, META, METRICS, PARAMS, TAGS, meta_path
from .run_reader import meta_fields, record_from_fields

__all__ = ["RunFolder", "StoreDoctor", "RUN_KEYS"]

#: Keys a meta.yaml must have for MLflow 3 (``RunInfo``) and litexp to read it.
RUN_KEYS = ("artifact_uri", "end_time", "experiment_id", "run_id", "start_time", "status", "user_id")
_KINDS = ((METRICS, "Metric"), (PARAMS, "Param"), (TAGS, "Tag"))
_OPEN = ("RUNNING", "SCHEDULED")


@dataclass
class RunFolder:
    """A folder of an experiment that holds a ``meta.yaml``; ``record`` once it is readable (when
    checking without fixing: as the repair would rebuild it)."""

    experiment_id: str
    path: str
    trashed: bool
    record: Optional[RunRecord] = None

    @property
    def run_id(self) -> str:
        return os.path.basename(self.path)


class StoreDoctor(StoreChecks):
    """The checks and repairs of one file store: the root and its experiments
    (:class:`~.doctor.StoreChecks`), then its runs."""

    def run_folders(self) -> List[RunFolder]:
        """Every folder of an experiment (active or deleted) that holds a meta.yaml."""
        return [
            RunFolder(os.path.basename(exp_dir), path, trashed)
            for exp_dir, trashed in self.experiment_dirs()
            for path in sorted(self.layout.run_dirs_of(exp_dir))
            if os.path.lexists(meta_path(path))
        ]

    def check_run_meta(self, run: RunFolder) -> None:
        """Check (and repair) the run's meta.yaml, folders and temporary files; set ``run.record``
        when the meta.yaml is readable (after a repair; when checking without fixing, the record the
        repair would write, so that the run's files are checked as ``fix`` would check them).

        A rebuilt meta.yaml keeps every value that still parses (from the whole file, else from
        its complete lines) and fills in the rest from the folder: the run id is the folder's
        name, the experiment its parent's, the name the ``mlflow.runName`` tag, the user the
        ``mlflow.user`` tag (else ``unknown``), the start and end times the earliest and latest
        metric time stamps and file modification times, the artifact URI the experiment's
        location (as the layout gives it), written with the store's meta writer. A file that did
        not parse gets status KILLED (unless its surviving lines say the run had ended); one that
        parsed but lacked keys keeps its status. The old bytes are kept in :data:`RUN_ASIDE`.
        A damaged meta.yaml in a folder that is no run is moved into :data:`STORE_ASIDE`.
        """
        self._temps(run.path, run.experiment_id, run.run_id)
        path = meta_path(run.path)
        data = self._read_meta(path, run.experiment_id, run.run_id)
        if data is None:
            return
        whole, found, reason = parse_meta(data)
        reason = reason or self._run_meta_flaw(run, found)
        if reason is None:
            run.record = record_from_fields(run.run_id, meta_fields(found, run.path))
            return
        if not _looks_like_run(run.path):
            target = self.aside(path)
            self.add(
                "run-meta",
                run.experiment_id,
                None,
                path,
                f"meta.yaml {reason}, in folder {run.run_id!r}, which is not a run; MLflow fails on it",
                f"move the file to {self.rel(target)} (the folder then reads as no run)",
                self._mover(path, target),
                path,
            )
            return
        meta, notes = self._run_meta(run, found, complete=whole is not None)
        kept = os.path.join(run.path, RUN_ASIDE, META) if data.strip() else None
        p = self.add(
            "run-meta",
            run.experiment_id,
            run.run_id,
            path,
            f"meta.yaml {reason}; MLflow fails on this run",
            f"rebuild it ({', '.join(notes)}){self._kept(kept)}",
            lambda: self._rewrite_meta(path, data, meta, kept),
            path,
        )
        if p.fixed or not self.fix:  # a check goes on with the record the repair would write
            run.record = record_from_fields(run.run_id, meta_fields(meta, run.path))

    @staticmethod
    def _run_meta_flaw(run: RunFolder, meta: Dict[str, Any]) -> Optional[str]:
        missing = [k for k in RUN_KEYS if k not in meta]
        if missing:
            return f"lacks {', '.join(missing)}"
        if str(meta["run_id"]) != run.run_id:
            return f"names run {meta['run_id']!r}, not its folder's {run.run_id!r}"
        if meta["user_id"] is None:
            return "has no user_id"
        if _int(meta["start_time"]) is None:
            return f"has the start_time {meta['start_time']!r}, not a number of milliseconds"
        if _int(meta["status"]) not in INT_TO_STATUS:
            return f"has the status {meta['status']!r}, not one of MLflow's numbers"
        try:
            meta_fields(meta, run.path)
        except Exception as exc:
            return f"cannot be read ({one_line(str(exc))})"
        return None

    def _run_meta(self, run: RunFolder, found: Dict[str, Any], complete: bool) -> Tuple[Dict[str, Any], List[str]]:
        tags = self.layout.data_dir(run.path, "Tag")
        raw = found.get("status")
        status = STATUS_TO_INT.get(raw.upper()) if isinstance(raw, str) else _int(raw)
        if status not in INT_TO_STATUS or (not complete and INT_TO_STATUS[status] in _OPEN):
            status = STATUS_TO_INT["KILLED"]
        first, last = self._times(run.path)
        for _, metric in fs.walk_files(self.layout.data_dir(run.path, "Metric")):
            try:
                stamps = [p[0] for p in lines.parse_history(fs.read_bytes(metric))[0]]
            except OSError:
                continue
            first, last = min([first] + stamps), max([last] + stamps)
        start = _int(found.get("start_time"))
        start = first if start is None else start
        end = None if INT_TO_STATUS[status] in _OPEN else _int(found.get("end_time")) or max(last, start)
        stage = _stage(found, run.trashed)
        location = self.locations.get(run.experiment_id) or self._location(run.experiment_id)
        meta = _scalars(found) if complete else {}
        meta.update(
            {
                key: found[key] if isinstance(found.get(key), str) else ""
                for key in ("entry_point_name", "source_name", "source_version")
            }
        )
        meta.update(
            artifact_uri=_text(found.get("artifact_uri")) or location.rstrip("/") + f"/{run.run_id}/artifacts",
            end_time=end,
            experiment_id=run.experiment_id,
            lifecycle_stage=stage,
            run_id=run.run_id,
            run_name=_text(found.get("run_name")) or _read_tag(tags, RUN_NAME_TAG) or "",
            run_uuid=run.run_id,
            source_type=_int(found.get("source_type")) or 4,
            start_time=start,
            status=status,
            tags=[],
            user_id=_text(found.get("user_id")) or _read_tag(tags, USER_TAG) or "unknown",
        )
        meta.pop("deleted_time", None)
        if stage == DELETED:
            meta["deleted_time"] = _int(found.get("deleted_time")) or end or last
        notes = [f"status {INT_TO_STATUS[status]}"] + ([f"name {meta['run_name']!r}"] if meta["run_name"] else [])
        return meta, notes + ["times from its files" if found.get("start_time") is None else "its own times"]

    # ------------------------------------------------------------ run data
    def check_run_files(self, run: RunFolder) -> None:
        """Metric, param and tag files MLflow cannot read, in a run nobody writes to."""
        for sub, kind in _KINDS:
            for key, path in sorted(fs.walk_files(os.path.join(run.path, sub))):
                if _is_temp(os.path.basename(path)):
                    self._temps(path, run.experiment_id, run.run_id)
                    continue
                reason = _key_file_problem(key, path, kind)
                if reason is not None:
                    target = os.path.join(run.path, RUN_ASIDE, sub, *key.split("/"))
                    self.add(
                        "bad-file",
                        run.experiment_id,
                        run.run_id,
                        path,
                        f"{kind.lower()} file {key!r} {reason}; MLflow fails on this run",
                        f"move it to {self.rel(target)}",
                        self._mover(path, target),
                        path,
                    )
                elif kind == "Metric":
                    self._metric(run, key, path)

    def _metric(self, run: RunFolder, key: str, path: str) -> None:
        """Cut the lines MLflow cannot read out of a metric file; they are kept in ``<key>.cut``."""
        try:
            data = fs.read_bytes(path)
        except OSError:
            return
        bad = lines.unreadable_lines(data)
        if not bad:
            return
        what = [
            f"its last line has no newline (a write cut short): {_quote(raw)}" for why, _, raw in bad if why == "torn"
        ]
        others = [(number, raw) for why, number, raw in bad if why != "torn"]
        if others:
            first = f"line {others[0][0]}: {_quote(others[0][1])}"
            what.insert(0, f"{_plural(len(others), 'line')} MLflow cannot read ({first})")
        cut = b"".join(raw + b"\n" for _, _, raw in bad)
        drop = {number for _, number, _ in bad}
        good = b"".join(raw + b"\n" for number, raw in enumerate(data.split(b"\n")[:-1], 1) if number not in drop)
        side = os.path.join(run.path, RUN_ASIDE, METRICS, *key.split("/"))

        def action() -> Optional[str]:
            if fs.read_bytes(path) != data:
                return "it changed meanwhile; run doctor again"
            if not good:
                _move(path, side)
                return None
            os.makedirs(os.path.dirname(side), exist_ok=True)
            fs.append_to_file(side + ".cut", cut)
            fs.replace_file(path, good, tmp_folder=run.path)
            return None

        self.add(
            "torn-metric",
            run.experiment_id,
            run.run_id,
            path,
            f"metric {key!r}: {'; '.join(what)}",
            f"cut {_plural(len(bad), 'line')} ({len(cut)} bytes), kept in {self.rel(side + '.cut')}"
            if good
            else f"no line is readable: move the file to {self.rel(side)}",
            action,
            path,
        )


def _looks_like_run(path: str) -> bool:
    """A folder named like a run id that holds one of a run's folders."""
    try:
        validate_run_id(os.path.basename(path))
    except LitexpError:
        return False
    return any(os.path.isdir(os.path.join(path, sub)) for sub in (METRICS, PARAMS, ARTIFACTS, TAGS))


def _quote(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _read_tag(folder: str, key: str) -> Optional[str]:
    try:
        return fs.read_text(os.path.join(folder, key)) or None
    except (OSError, UnicodeDecodeError):
        return None
