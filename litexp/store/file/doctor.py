"""Checking and repairing an ``mlruns`` folder (``litexp doctor``): what killed writers, editors and
hand edits leave behind that MLflow's file store (3.17) fails on. The kinds of :class:`Problem`:

- ``stray-folder``: a root or ``.trash`` folder whose name MLflow refuses as an experiment id;
- ``experiment-meta`` / ``run-meta``: an empty, cut short, unparseable or incomplete meta.yaml
  (what a writer killed while rewriting it in place leaves), rebuilt from what the folder holds;
- ``torn-metric``: metric lines MLflow cannot read (a last line without newline, which litexp
  skips and MLflow reads as a partial number or fails on; blank lines; lines that are not
  ``timestamp value [step]``; bytes that are not UTF-8), cut out;
- ``bad-file``: a metric, param or tag file MLflow fails on (a name it refuses such as ``note~``,
  text that is not UTF-8, an empty metric file), moved out of the data folders;
- ``temp-file``: a temporary file of litexp's atomic writes (:func:`~.fs.temp_path_in`) older than
  :data:`TEMP_MIN_AGE`, removed (MLflow makes its temporary files outside the store);
- ``damaged-index``: a search index (:mod:`.index`) SQLite cannot read, removed (a cache);
- ``duplicate-name``: experiments sharing a name, not repaired (which one is meant cannot be told).

Data files of RUNNING runs are not checked (a live writer may be mid-append) unless the caller says
their process is gone; a damaged file changed less than :data:`SETTLE_SECONDS` ago is not repaired.
Nothing is deleted but temporary files and damaged indexes: what a repair takes out of a run is
kept in the run's :data:`RUN_ASIDE` folder at the same relative path (``metrics/loss.cut`` holds
the lines cut from ``metrics/loss``), what it takes out of the root or an experiment folder under
:data:`STORE_ASIDE` at its path relative to the root. MLflow reads neither: it reads only
``meta.yaml``, ``metrics/``, ``params/`` and ``tags/`` of a run folder and skips root folders whose
name ends in ``.trash``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...errors import LitexpError, StorageError
from ...records import ACTIVE, DELETED, INT_TO_STATUS, RUN_NAME_TAG, STATUS_TO_INT, USER_TAG, RunRecord
from ..uri import path_to_file_url
from ..validation import validate_key, validate_run_id
from . import fs
from . import metric_lines as lines
from .index import index_damage, index_path, unlink_index
from .layout import (
    ARTIFACTS,
    DOCTOR_RUN_ASIDE,
    DOCTOR_STORE_ASIDE,
    META,
    METRICS,
    MODELS,
    PARAMS,
    TAGS,
    TRASH,
    Layout,
    meta_path,
)
from .run_reader import meta_fields, record_from_fields

__all__ = [
    "Problem",
    "RunFolder",
    "StoreDoctor",
    "parse_meta",
    "RUN_ASIDE",
    "STORE_ASIDE",
    "TEMP_MIN_AGE",
    "SETTLE_SECONDS",
]

RUN_ASIDE = DOCTOR_RUN_ASIDE
STORE_ASIDE = DOCTOR_STORE_ASIDE
#: A temporary file younger than this may belong to a write still going on (a large artifact copy).
TEMP_MIN_AGE = 3600.0
#: A damaged file changed less than this ago is not repaired yet: its writer may still be at work.
SETTLE_SECONDS = 10.0
#: MLflow's rule for experiment ids (``mlflow.utils.validation._EXPERIMENT_ID_REGEX``).
MLFLOW_EXPERIMENT_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
#: Keys a meta.yaml must have for MLflow 3 (``RunInfo``, ``Experiment``) and litexp to read it.
RUN_KEYS = ("artifact_uri", "end_time", "experiment_id", "run_id", "start_time", "status", "user_id")
EXPERIMENT_KEYS = ("artifact_location", "experiment_id", "lifecycle_stage", "name")
_KINDS = ((METRICS, "Metric"), (PARAMS, "Param"), (TAGS, "Tag"))
_OPEN = ("RUNNING", "SCHEDULED")

Action = Callable[[], Optional[str]]


@dataclass
class Problem:
    """One thing found wrong: where, what, and what the repair does (or did)."""

    kind: str
    experiment_id: Optional[str]
    run_id: Optional[str]
    path: str
    message: str
    fix: str
    fixed: bool = False


@dataclass
class RunFolder:
    """A folder of an experiment that holds a ``meta.yaml``; ``record`` once it is readable."""

    experiment_id: str
    path: str
    trashed: bool
    record: Optional[RunRecord] = None

    @property
    def run_id(self) -> str:
        return os.path.basename(self.path)


def _is_temp(name: str) -> bool:
    return name.endswith(fs.TMP_SUFFIX)


def _int(value: Any) -> Optional[int]:
    return value if type(value) is int else None


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _scalars(found: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in found.items() if v is None or isinstance(v, (str, int, float))}


def _stage(found: Dict[str, Any], trashed: bool) -> str:
    """The lifecycle stage of a rebuilt meta.yaml: deleted in ``.trash``, else the old one if valid."""
    return DELETED if trashed or found.get("lifecycle_stage") == DELETED else ACTIVE


def _move(src: str, dst: str) -> None:
    """Move a file or folder to ``dst`` (``dst.1``, ``dst.2``... when taken)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    target, n = dst, 0
    while os.path.lexists(target):
        n += 1
        target = f"{dst}.{n}"
    try:
        os.rename(src, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(src, target)  # another file system: copied whole, then the original removed


def _quote(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def parse_meta(data: bytes) -> Tuple[Optional[Dict[str, Any]], Dict[str, Any], Optional[str]]:
    """What a meta.yaml holds, and why it is unreadable (None when it is not).

    Returns ``(whole, found, reason)``: ``whole`` is the mapping its complete lines make when they
    parse as one (every line, unless the last has no newline: cut short, so left out), else None;
    ``found`` is that mapping, or the values of the complete lines that parse one by one."""
    if not data.strip():
        return None, {}, "is empty"
    cut = not data.endswith(b"\n")
    body = data[: data.rfind(b"\n") + 1] if cut else data
    reason = "is cut short (its last line has no newline)" if cut else None
    try:
        meta = fs.parse_yaml(body) if body.strip() else None
    except Exception as exc:
        reason = reason or f"cannot be parsed ({(str(exc) or type(exc).__name__).splitlines()[0]})"
    else:
        if isinstance(meta, dict):
            return meta, dict(meta), reason
        reason = reason or f"is not a mapping but {type(meta).__name__}"
    found: Dict[str, Any] = {}
    complete = body.decode("utf-8", "replace").split("\n")[:-1]
    for i, line in enumerate(complete):
        if not line or line[0] in " -#" or (i + 1 < len(complete) and complete[i + 1][:1] in (" ", "-")):
            continue  # a continuation, a list item, or a key whose value goes on below
        try:
            one = fs.parse_yaml(line.encode("utf-8"))
        except Exception:
            continue
        if isinstance(one, dict) and len(one) == 1:
            found.update(one)
    return None, found, reason


class StoreDoctor:
    """The checks and repairs of one file store (a :class:`~litexp.store.file.FileStore`).

    ``fix=False`` writes nothing. Problems are collected in :attr:`problems` as they are found.
    """

    def __init__(self, store: Any, fix: bool = False) -> None:
        self.store = store
        self.layout: Layout = store.layout
        self.root = self.layout.root
        self.fix = fix
        self.problems: List[Problem] = []
        self.now = time.time()
        #: experiment id → artifact location, of the experiments whose meta.yaml is readable
        self.locations: Dict[str, str] = {}
        self._names: Dict[str, str] = {}  # experiment id → name, of the meta.yaml files that parse

    # ------------------------------------------------------------ helpers
    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def _location(self, exp_id: str) -> str:
        """The artifact location MLflow gives a new experiment: its active folder's URL."""
        return path_to_file_url(self.layout.experiment_dir(exp_id))

    def _kept(self, kept: Optional[str]) -> str:
        return f"; the old file is kept in {self.rel(kept)}" if kept else ""

    def aside(self, path: str) -> str:
        """Where a repair keeps ``path`` (of the root or an experiment folder)."""
        return os.path.join(self.root, STORE_ASIDE, self.rel(path))

    def add(
        self,
        kind: str,
        exp_id: Optional[str],
        run_id: Optional[str],
        path: str,
        message: str,
        fix: str,
        action: Optional[Action] = None,
        settle: Optional[str] = None,
    ) -> Problem:
        """Record a problem; when fixing, run ``action`` (unless the file ``settle`` changed in the
        last :data:`SETTLE_SECONDS`). The action returns None when done, else why it did nothing."""
        problem = Problem(kind, exp_id, run_id, path, message, fix)
        self.problems.append(problem)
        if not self.fix or action is None:
            return problem
        age = self._age(settle) if settle is not None else SETTLE_SECONDS
        if age < SETTLE_SECONDS:
            result: Optional[str] = (
                f"it changed {max(age, 0):.0f} s ago and a writer may be at work; run doctor again in a minute"
            )
        else:
            try:
                result = action()
            except StorageError as exc:
                result = str(exc)
            except OSError as exc:
                result = f"{exc.strerror or exc} ({getattr(exc, 'filename', None) or path})"
            except LitexpError as exc:  # the store lock could not be taken
                result = str(exc)
        if result is None:
            problem.fixed = True
        else:
            problem.fix += f" — not done: {result}"
        return problem

    @staticmethod
    def _mover(src: str, dst: str) -> Action:
        def move() -> Optional[str]:
            _move(src, dst)
            return None

        return move

    @staticmethod
    def _remover(path: str, remove: Callable[[str], None] = os.unlink) -> Action:
        def run() -> Optional[str]:
            remove(path)
            return None

        return run

    def _age(self, path: str) -> float:
        """Seconds since ``path`` last changed (infinite when it cannot be told)."""
        try:
            return self.now - os.lstat(path).st_mtime
        except OSError:
            return float("inf")

    def _temps(self, folder: str, exp_id: Optional[str], run_id: Optional[str]) -> None:
        """The old temporary files of ``folder`` (a file's path: that file, if it is one)."""
        try:
            with os.scandir(folder) as it:
                found = sorted(e.path for e in it if _is_temp(e.name) and e.is_file(follow_symlinks=False))
        except NotADirectoryError:
            found = [folder]
        except OSError:
            return
        for path in found:
            age = self._age(path)
            if TEMP_MIN_AGE <= age < float("inf"):  # younger: a write that may still be going on
                self.add(
                    "temp-file",
                    exp_id,
                    run_id,
                    path,
                    f"leftover temporary file of a write that never finished ({age / 3600:.1f} h old)",
                    "remove it (the file it was meant to replace is intact)",
                    self._remover(path),
                )

    def _rewrite_meta(self, path: str, data: bytes, meta: Dict[str, Any], kept: Optional[str]) -> Optional[str]:
        """Under the store lock, if ``path`` still holds ``data``: keep ``data`` at ``kept``, write ``meta``."""
        with self.store.lock:
            try:
                now: Optional[bytes] = fs.read_bytes(path)
            except FileNotFoundError:
                now = None
            if now != data:
                return "it changed meanwhile; run doctor again"
            if kept is not None:
                os.makedirs(os.path.dirname(kept), exist_ok=True)
                target, n = kept, 0
                while not fs.create_file(target, data):
                    n += 1
                    target = f"{kept}.{n}"
            if "run_id" in meta:  # the folders MLflow's get_run needs
                for sub in (METRICS, PARAMS, ARTIFACTS):
                    os.makedirs(os.path.join(os.path.dirname(path), sub), exist_ok=True)
            fs.write_yaml(path, meta)
        return None

    def _times(self, folder: str, deep: bool = True) -> Tuple[int, int]:
        """Earliest and latest modification times (ms) of what ``folder`` holds (every file below
        it, or with ``deep=False`` its entries), but its meta.yaml and what doctor keeps; the
        folder's own when it holds nothing else."""
        stamps: List[float] = []
        for current, dirs, files in os.walk(folder):
            names = [
                n
                for n in files + ([] if deep else dirs)
                if not (current == folder and n == META) and not _is_temp(n) and n != RUN_ASIDE
            ]
            dirs[:] = [d for d in dirs if d != RUN_ASIDE] if deep else []
            for name in names:
                try:
                    stamps.append(os.lstat(os.path.join(current, name)).st_mtime)
                except OSError:
                    pass
        if not stamps:
            age = self._age(folder)
            stamps.append(self.now - age if age < float("inf") else self.now)
        return int(min(stamps) * 1000), int(max(stamps) * 1000)

    # ------------------------------------------------------------ the root and experiments
    def experiment_dirs(self) -> List[Tuple[str, bool]]:
        """``(folder, trashed)`` of every folder named like a litexp experiment (digits)."""
        return [
            (path, trashed)
            for trashed in (False, True)
            for path in self.layout.experiment_folders(trashed)
            if os.path.basename(path).isdigit()
        ]

    def check_store(self) -> None:
        """Stray folders, experiment metas and tags, indexes, temporary files, duplicate names."""
        if not self.layout.exists():
            return
        self._temps(self.root, None, None)
        self._strays(self.root, skip=lambda n: n.endswith(TRASH) or n in (MODELS, STORE_ASIDE))
        self._strays(self.layout.trash, skip=lambda n: False)
        self._names = {}
        for exp_dir, _ in self.experiment_dirs():
            try:
                whole = parse_meta(fs.read_bytes(meta_path(exp_dir)))[0]
            except OSError:
                continue
            if whole is not None and whole.get("name") is not None:
                self._names[os.path.basename(exp_dir)] = str(whole["name"])
        names: Dict[str, List[Tuple[int, str, str]]] = {}
        for exp_dir, trashed in self.experiment_dirs():
            exp_id = os.path.basename(exp_dir)
            self._temps(exp_dir, exp_id, None)
            meta = self.check_experiment_meta(exp_dir, exp_id, trashed)
            if meta is None:
                continue
            self.locations[exp_id] = str(meta.get("artifact_location") or path_to_file_url(exp_dir))
            names.setdefault(str(meta["name"]), []).append((_int(meta.get("creation_time")) or 0, exp_id, exp_dir))
            for key, path in sorted(fs.walk_files(self.layout.experiment_tags_dir(exp_dir))):
                reason = _key_file_problem(key, path, "Tag")
                if reason is not None:
                    target = self.aside(path)
                    self.add(
                        "bad-file",
                        exp_id,
                        None,
                        path,
                        f"experiment tag file {key!r} {reason}; MLflow fails on it",
                        f"move it to {self.rel(target)}",
                        self._mover(path, target),
                        path,
                    )
            for path in sorted({index_path(exp_dir, network=False), index_path(exp_dir, network=True)}):
                reason = index_damage(path)
                if reason is not None:
                    self.add(
                        "damaged-index",
                        exp_id,
                        None,
                        path,
                        f"the search index is damaged ({reason})",
                        "remove it: it is a cache that the next search rebuilds, no data is lost",
                        self._remover(path, unlink_index),
                    )
        for name, group in sorted(names.items()):
            group.sort()
            for _, exp_id, exp_dir in group[1:]:
                self.add(
                    "duplicate-name",
                    exp_id,
                    None,
                    meta_path(exp_dir),
                    f"experiment {exp_id} has the name {name!r} of experiment {group[0][1]}: MLflow's "
                    "get_experiment_by_name picks the newest, litexp's R.start(experiment_name=...) the first "
                    "folder, so they may log into different ones",
                    "none (which one the name should mean cannot be told): rename one, e.g. MlflowClient(uri)"
                    f".rename_experiment({exp_id!r}, {name + '-' + exp_id!r}), or edit the name: line of "
                    f"{self.rel(meta_path(exp_dir))}",
                )

    def _strays(self, parent: str, skip: Callable[[str], bool]) -> None:
        """Folders MLflow lists as experiments but whose name it refuses as an id."""
        try:
            with os.scandir(parent) as it:
                found = sorted(
                    e.name for e in it if e.is_dir() and not skip(e.name) and not MLFLOW_EXPERIMENT_ID.match(e.name)
                )
        except OSError:
            return
        for name in found:
            path = os.path.join(parent, name)
            target = self.aside(path)
            self.add(
                "stray-folder",
                None,
                None,
                path,
                f"folder {self.rel(path)!r} is not an experiment: MLflow's file store fails on a folder there "
                "whose name is not an experiment id",
                f"move it to {self.rel(target)}",
                self._mover(path, target),
            )

    def check_experiment_meta(self, exp_dir: str, exp_id: str, trashed: bool) -> Optional[Dict[str, Any]]:
        """The experiment's meta.yaml as readable now (after a repair), or None.

        A rebuilt one keeps the values that still parse; its name is the old one when it survived
        and no other experiment has it, else ``Default`` for ``0`` or ``recovered-<id>``."""
        path = meta_path(exp_dir)
        data = self._read_meta(path, exp_id, None)
        if data is None:
            return None
        whole, found, reason = parse_meta(data)
        if reason is None:
            missing = [k for k in EXPERIMENT_KEYS if k not in found]
            if missing:
                reason = f"lacks {', '.join(missing)}"
            elif not _text(found.get("name")):
                reason = "has no name (text)"
            else:
                return found if str(found["experiment_id"]) == exp_id else None  # another id: MLflow skips it
        taken = {n for i, n in self._names.items() if i != exp_id}
        name = _text(found.get("name")) or (str(found["name"]) if found.get("name") is not None else None)
        note = f"name {name!r}"
        if name is None or name in taken:
            name = "Default" if exp_id == "0" and "Default" not in taken else f"recovered-{exp_id}"
            while name in taken:
                name += "-1"
            note = f"name {name!r}: rename it once you know the right one"
        first, last = self._times(exp_dir, deep=False)
        stage = _stage(found, trashed)
        meta = _scalars(found)
        meta.update(
            artifact_location=_text(found.get("artifact_location")) or self._location(exp_id),
            creation_time=_int(found.get("creation_time")) or first,
            experiment_id=exp_id,
            last_update_time=_int(found.get("last_update_time")) or last,
            lifecycle_stage=stage,
            name=name,
        )
        kept = self.aside(path) if data.strip() else None
        p = self.add(
            "experiment-meta",
            exp_id,
            None,
            path,
            f"meta.yaml {reason}; MLflow fails on it or hides the experiment and its runs",
            f"rebuild it ({note}, lifecycle {stage}){self._kept(kept)}",
            lambda: self._rewrite_meta(path, data, meta, kept),
            path,
        )
        return meta if p.fixed else None

    def _read_meta(self, path: str, exp_id: str, run_id: Optional[str]) -> Optional[bytes]:
        """The bytes of a meta.yaml; None when missing or unreadable (a problem then)."""
        try:
            return fs.read_bytes(path)
        except FileNotFoundError:
            return None  # not an experiment or run (MLflow skips it too)
        except OSError as exc:
            self.add(
                "run-meta" if run_id else "experiment-meta",
                exp_id,
                run_id,
                path,
                f"meta.yaml cannot be read: {exc.strerror or exc}",
                "none: make the file readable (check its permissions)",
            )
            return None

    # ------------------------------------------------------------ runs
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
        when the meta.yaml is readable.

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
        if p.fixed:
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
            return f"cannot be read ({exc})"
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


def _key_file_problem(key: str, path: str, kind: str) -> Optional[str]:
    """Why MLflow cannot read the file of a key (a metric's lines are checked apart), or None."""
    try:
        validate_key(key, kind)
    except LitexpError:
        return "has a name MLflow refuses"
    try:
        if kind == "Metric":
            return "is empty" if os.lstat(path).st_size == 0 else None
        fs.read_bytes(path).decode("utf-8")
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    return None


def _read_tag(folder: str, key: str) -> Optional[str]:
    try:
        return fs.read_text(os.path.join(folder, key)) or None
    except (OSError, UnicodeDecodeError):
        return None
