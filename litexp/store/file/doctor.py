"""Checking and repairing an ``mlruns`` folder (``litexp doctor``): what killed writers, editors and
hand edits leave behind that MLflow's file store (3.17) fails on. The kinds of :class:`Problem`:

- ``stray-folder``: a root or ``.trash`` folder whose name MLflow refuses as an experiment id, or
  one that has no meta.yaml (nor runs) and has not changed for :data:`SETTLE_SECONDS` (a new
  experiment's folder is made before its meta.yaml), moved aside;
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

A folder that does not look like a store (no ``.trash`` folder and no experiment folder whose
meta.yaml names an experiment) is refused (:func:`require_store`): its folders are not strays.
This module holds the checks of the root and the experiments (:class:`StoreChecks`);
:mod:`.doctor_runs` those of the runs (:class:`~.doctor_runs.StoreDoctor`, the whole doctor).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ...errors import InvalidInputError, LitexpError, StorageError
from ...records import ACTIVE, DELETED
from ..uri import path_to_file_url
from ..validation import validate_key
from . import fs
from .index import index_damage, index_path, unlink_index
from .layout import (
    ARTIFACTS,
    DOCTOR_RUN_ASIDE,
    DOCTOR_STORE_ASIDE,
    META,
    METRICS,
    PARAMS,
    PURGE_INFIX,
    PURGE_MARKER,
    RESERVED_ROOT_FOLDERS,
    TRASH,
    Layout,
    meta_path,
)

__all__ = [
    "Problem",
    "StoreChecks",
    "parse_meta",
    "require_store",
    "one_line",
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
#: Keys a meta.yaml must have for MLflow 3 (``Experiment``) and litexp to read it.
EXPERIMENT_KEYS = ("artifact_location", "experiment_id", "lifecycle_stage", "name")
_NEWLINES = re.compile(r"\s*\n\s*")

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


def one_line(text: str) -> str:
    """``text`` on one line (a parser's error spans several): each line break, with the blanks
    around it, made one space."""
    return _NEWLINES.sub(" ", text).strip()


def _experiment_meta(path: str) -> bool:
    """Whether ``path`` is a meta.yaml (even a damaged one) that names an experiment: an
    ``experiment_id``, or a ``name`` and an ``artifact_location``."""
    try:
        found = parse_meta(fs.read_bytes(path))[1]
    except (OSError, ValueError):
        return False
    return "experiment_id" in found or ("name" in found and "artifact_location" in found)


def require_store(root: str) -> None:
    """InvalidInputError unless ``root`` looks like an mlruns store: MLflow and litexp make a
    ``.trash`` folder and ``0/meta.yaml`` when they create one, so it must hold a ``.trash`` folder
    or an experiment folder (one whose meta.yaml names an experiment). Any other folder's folders
    would all be "strays" that a repair moves away."""
    if not os.path.isdir(root) or os.path.isdir(os.path.join(root, TRASH)):
        return  # a missing store is the caller's error (NotFoundError)
    try:
        with os.scandir(root) as it:
            names = sorted(e.name for e in it if e.is_dir() and e.name not in RESERVED_ROOT_FOLDERS)
    except OSError:
        names = []
    if any(_experiment_meta(meta_path(os.path.join(root, name))) for name in names):
        return
    raise InvalidInputError(
        f"{root} does not look like an mlruns store: it has no {TRASH} folder and no experiment folder "
        "(a folder whose meta.yaml has an experiment_id and a name); doctor checks and repairs only "
        "stores MLflow or litexp made."
    )


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
        reason = reason or f"cannot be parsed ({one_line(str(exc) or type(exc).__name__)})"
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


class StoreChecks:
    """The checks and repairs of one file store's root and experiments (a
    :class:`~litexp.store.file.FileStore`); :class:`~.doctor_runs.StoreDoctor` adds its runs'.

    ``fix=False`` writes nothing. Problems are collected in :attr:`problems` as they are found.
    Messages are single lines.
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
        self._strayed: Set[str] = set()  # the stray folders found: not experiments, checked no further

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
        problem = Problem(kind, exp_id, run_id, path, one_line(message), one_line(fix))
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
            problem.fix += f" — not done: {one_line(result)}"
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

    def _rewrite_meta(
        self, path: str, data: Optional[bytes], meta: Dict[str, Any], kept: Optional[str]
    ) -> Optional[str]:
        """Under the store lock, if ``path`` still holds ``data`` (None: is still missing): keep
        ``data`` at ``kept``, write ``meta``."""
        with self.store.lock:
            try:
                now: Optional[bytes] = fs.read_bytes(path)
            except FileNotFoundError:
                now = None
            if now != data:
                return "it changed meanwhile; run doctor again"
            if kept is not None and data is not None:
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
        """``(folder, trashed)`` of every folder named like a litexp experiment (digits), but strays."""
        return [
            (path, trashed)
            for trashed in (False, True)
            for path in self.layout.experiment_folders(trashed)
            if os.path.basename(path).isdigit() and path not in self._strayed
        ]

    def check_store(self) -> None:
        """Stray folders, experiment metas and tags, indexes, temporary files, duplicate names."""
        if not self.layout.exists():
            return
        require_store(self.root)
        self._temps(self.root, None, None)
        self._strays(self.root, skip=lambda n: n.endswith(TRASH) or n in RESERVED_ROOT_FOLDERS)
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
        """Folders MLflow lists as experiments but whose name it refuses as an id, or that have no
        meta.yaml (MLflow logs an error for each, litexp skips them): not a new experiment's folder
        (changed in the last :data:`SETTLE_SECONDS`: its meta.yaml comes next), not one gc is
        removing, not one that holds runs (its meta.yaml is rebuilt, see
        :meth:`check_experiment_meta`)."""
        try:
            with os.scandir(parent) as it:
                found = sorted(e.name for e in it if e.is_dir() and not skip(e.name))
        except OSError:
            return
        for name in found:
            path = os.path.join(parent, name)
            if not MLFLOW_EXPERIMENT_ID.match(name):
                why = "MLflow's file store fails on a folder there whose name is not an experiment id"
            elif self._no_meta(path) and not (name.isdigit() and self._holds_runs(path)):
                if self._age(path) < SETTLE_SECONDS:
                    continue  # an experiment being created: its meta.yaml is written next
                why = "it has no meta.yaml; MLflow's file store logs an error for it (malformed experiment)"
            else:
                continue
            target = self.aside(path)
            self._strayed.add(path)
            self.add(
                "stray-folder",
                None,
                None,
                path,
                f"folder {self.rel(path)!r} is not an experiment: {why}",
                f"move it to {self.rel(target)}",
                self._stray_mover(path, target),
            )

    @staticmethod
    def _no_meta(folder: str) -> bool:
        """No meta.yaml in ``folder``, and no sign of gc removing it (which renames its meta.yaml)."""
        return not (
            os.path.lexists(meta_path(folder))
            or os.path.lexists(os.path.join(folder, PURGE_MARKER))
            or PURGE_INFIX in os.path.basename(folder)
        )

    def _holds_runs(self, exp_dir: str) -> bool:
        return any(os.path.lexists(meta_path(path)) for path in self.layout.run_dirs_of(exp_dir))

    def _stray_mover(self, path: str, target: str) -> Action:
        """Move a stray folder aside, under the store lock (experiments are made under it) unless it
        got a meta.yaml meanwhile."""

        def move() -> Optional[str]:
            with self.store.lock:
                if MLFLOW_EXPERIMENT_ID.match(os.path.basename(path)) and not self._no_meta(path):
                    return "it got a meta.yaml meanwhile; run doctor again"
                _move(path, target)
            return None

        return move

    def check_experiment_meta(self, exp_dir: str, exp_id: str, trashed: bool) -> Optional[Dict[str, Any]]:
        """The experiment's meta.yaml as readable now (after a repair; when checking without fixing,
        as the repair would rebuild it), or None.

        A missing one is rebuilt when the folder holds runs (else the folder is a stray). A rebuilt one keeps the values that still parse; its name is the old one when it survived
        and no other experiment has it, else ``Default`` for ``0`` or ``recovered-<id>``."""
        path = meta_path(exp_dir)
        data = self._read_meta(path, exp_id, None)
        if data is None:
            if not (self._no_meta(exp_dir) and self._holds_runs(exp_dir)):
                return None  # no experiment (a stray folder, see _strays), or one gc is removing
            found: Dict[str, Any] = {}
            reason: Optional[str] = "is missing"
        else:
            found, reason = parse_meta(data)[1:]
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
        kept = self.aside(path) if data is not None and data.strip() else None
        p = self.add(
            "experiment-meta",
            exp_id,
            None,
            path,
            f"meta.yaml {reason}; MLflow fails on it or hides the experiment and its runs",
            f"rebuild it ({note}, lifecycle {stage}){self._kept(kept)}",
            lambda: self._rewrite_meta(path, data, meta, kept),
            path if data is not None else exp_dir,
        )
        return meta if p.fixed or not self.fix else None  # a check goes on as the repair would

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
