"""Removing deleted runs and experiments for good (what ``mlflow gc`` does to a file store).

One part of :class:`~litexp.store.file.FileStore`. A removal is decided again at the moment it
happens, under the store lock (the lock every meta.yaml rewrite, restore and experiment move
takes): the run must still be deleted, the experiment still in ``.trash``, and both still old
enough. Still under the lock, the meta.yaml is renamed to :data:`MARKER` and a run folder is
renamed to ``<run_id>`` + :data:`REMOVING` + a random suffix, so that from then on no reader
(litexp or MLflow) sees a run or an experiment there, and a restore finds nothing to restore;
the folder is then deleted outside the lock. A removal cut short (a crash, a full disk) leaves
only such marked folders, which :meth:`Purger.finish` deletes on the next run.

Artifacts kept outside the run folder (an experiment created with its own artifact location)
are deleted too, as MLflow does, once the run is gone; but only a local folder whose path names
the run and that is not another store's run folder (the original of a copied store).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ... import config
from ...errors import InvalidInputError, NotFoundError, StorageError
from ...records import DELETED, RunRecord
from .. import validation as v
from ..uri import local_path_of
from . import fs
from .index import index_path, open_index
from .key_files import Warnings
from .layout import ARTIFACTS, PURGE_INFIX, PURGE_MARKER, Layout, meta_path
from .locks import StoreLock
from .run_reader import read_run_meta

__all__ = ["Purger", "Removal", "MARKER", "REMOVING"]

MARKER = PURGE_MARKER
REMOVING = PURGE_INFIX

#: ``(kind, experiment_id, run_id, path, bytes)``: kind ``run``, ``experiment`` or ``artifacts``;
#: ``run_id`` is None for an experiment.
Removal = Tuple[str, str, Optional[str], str, int]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ms(value: Any) -> Optional[int]:
    """A time stamp of a meta.yaml as int milliseconds; None when missing or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def run_is_due(meta: Dict[str, Any], older_than_ms: Optional[int], now_ms: int) -> bool:
    """MLflow's rule for a deleted run: deleted, and deleted at least ``older_than_ms`` ago
    (a run without ``deleted_time`` always is)."""
    if str(meta.get("lifecycle_stage")) != DELETED:
        return False
    deleted = _ms(meta.get("deleted_time"))
    return older_than_ms is None or deleted is None or now_ms - deleted >= older_than_ms


def experiment_is_due(last_update_time: Any, older_than_ms: Optional[int], now_ms: int) -> bool:
    """MLflow's rule for a deleted experiment: with an age, ``last_update_time`` before now minus it."""
    if older_than_ms is None:
        return True
    updated = _ms(last_update_time)
    return updated is not None and updated < now_ms - older_than_ms


def folder_bytes(path: str) -> int:
    """The size of every file below ``path`` (links not followed); 0 when it is gone."""
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
            if current == path and os.path.isfile(path):
                return os.path.getsize(path)
        except OSError:
            continue
    return total


def _rmtree(path: str) -> None:
    """Delete a folder; what another process deleted first is not an error."""

    def ignore_missing(function: Any, target: str, exc: Any) -> None:
        error = exc if isinstance(exc, BaseException) else exc[1]
        if not isinstance(error, FileNotFoundError):
            raise error

    handler: Dict[str, Any] = {"onexc" if sys.version_info >= (3, 12) else "onerror": ignore_missing}
    shutil.rmtree(path, **handler)


def _aside(folder: str, name: str) -> str:
    return os.path.join(folder, name + REMOVING + os.urandom(4).hex())


class Purger:
    """Permanent removal of the deleted runs and experiments of one store."""

    def __init__(self, layout: Layout, lock: StoreLock, warn: Warnings, network: Callable[[], bool]) -> None:
        self.layout = layout
        self.lock = lock
        self.warn_once = warn
        self.network = network

    # ------------------------------------------------------------ listing
    def deleted_runs(
        self, older_than_ms: Optional[int] = None, experiment_ids: Optional[Sequence[str]] = None
    ) -> List[RunRecord]:
        """The deleted runs of active and deleted experiments that are due (see :func:`run_is_due`),
        meta data only, in experiment then folder order."""
        wanted = None if experiment_ids is None else {v.validate_experiment_id(str(e)) for e in experiment_ids}
        now = _now_ms()
        found: List[RunRecord] = []
        for trashed in (False, True):
            for exp_dir in self.layout.experiment_folders(trashed):
                exp_id = os.path.basename(exp_dir)
                if not exp_id.isdigit() or (wanted is not None and exp_id not in wanted):
                    continue
                if not os.path.isfile(meta_path(exp_dir)):
                    continue  # not an experiment (or one being removed)
                for run_dir in sorted(self.layout.run_dirs_of(exp_dir)):
                    if REMOVING in os.path.basename(run_dir):
                        continue
                    record = read_run_meta(run_dir, self.warn_once)
                    if record is None or record.experiment_id != exp_id or record.lifecycle_stage != DELETED:
                        continue
                    meta = {"lifecycle_stage": record.lifecycle_stage, "deleted_time": record.deleted_time}
                    if run_is_due(meta, older_than_ms, now):
                        self.layout.remember_run(record.run_id, run_dir)  # found again at once to remove it
                        found.append(record)
        return found

    # ------------------------------------------------------------ runs
    def purge_run(self, run_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False) -> List[Removal]:
        """Remove a deleted run for good: its folder, then its artifacts kept elsewhere.

        Checked again under the store lock: NotFoundError when the run is gone, InvalidInputError
        when it is not deleted (restored meanwhile) or deleted too recently. ``dry_run``: the same
        checks, without the lock; nothing is removed. Returns what was (would be) removed.
        """
        run_id = v.validate_run_id(run_id)
        if dry_run:
            run_dir = self.layout.find_run_dir(run_id)
            meta = self._run_meta(run_dir, run_id)
            self._check_run(run_id, meta, older_than_ms)
            exp_id = os.path.basename(os.path.dirname(run_dir))
            removals: List[Removal] = [("run", exp_id, run_id, run_dir, folder_bytes(run_dir))]
            return removals + self._external_artifacts(run_dir, run_id, exp_id, meta, dry_run=True)
        with self.lock:
            run_dir = self.layout.find_run_dir(run_id)
            meta = self._run_meta(run_dir, run_id)
            self._check_run(run_id, meta, older_than_ms)
            aside = self._hide_run(run_dir, run_id)
        exp_id = os.path.basename(os.path.dirname(run_dir))
        removals = [("run", exp_id, run_id, run_dir, self._delete_aside(aside, exp_id))]
        current = self.layout.find_experiment_dir(exp_id)
        if current is not None:
            self._forget_runs(current, [run_id])
        try:
            return removals + self._external_artifacts(run_dir, run_id, exp_id, meta, dry_run=False)
        except StorageError as exc:
            raise StorageError(f"Run {run_id} was removed, but not its artifacts kept elsewhere: {exc}") from exc

    def _run_meta(self, run_dir: str, run_id: str) -> Dict[str, Any]:
        try:
            meta = fs.load_yaml(meta_path(run_dir))
        except FileNotFoundError:
            raise NotFoundError(f"Run {run_id} is gone (removed by another process).") from None
        except Exception as exc:
            raise InvalidInputError(
                f"Run {run_id} was left alone: its meta.yaml in {run_dir} cannot be read "
                f"({exc}). `litexp doctor` reports such runs."
            ) from None
        if not isinstance(meta, dict):
            raise InvalidInputError(f"Run {run_id} was left alone: its meta.yaml in {run_dir} is not a mapping.")
        return meta

    @staticmethod
    def _check_run(run_id: str, meta: Dict[str, Any], older_than_ms: Optional[int]) -> None:
        if str(meta.get("lifecycle_stage")) != DELETED:
            raise InvalidInputError(
                f"Run {run_id} is not deleted (it was restored, or never deleted); only deleted runs are removed."
            )
        if not run_is_due(meta, older_than_ms, _now_ms()):
            raise InvalidInputError(f"Run {run_id} was deleted less than the requested age ago; it is kept.")

    def _hide_run(self, run_dir: str, run_id: str) -> str:
        """Under the lock: meta.yaml renamed to the marker, then the folder put aside; its new path."""
        marker = os.path.join(run_dir, MARKER)
        try:
            os.rename(meta_path(run_dir), marker)
        except OSError as exc:
            raise fs.storage_error(exc, meta_path(run_dir)) from exc
        aside = _aside(os.path.dirname(run_dir), run_id)
        try:
            os.rename(run_dir, aside)
        except OSError as exc:
            try:  # leave the run as it was
                os.rename(marker, meta_path(run_dir))
            except OSError:
                pass
            raise fs.storage_error(exc, run_dir) from exc
        return aside

    def _delete_aside(self, aside: str, experiment_id: str) -> int:
        """Delete a folder put aside in an experiment folder (which may have moved to or from
        ``.trash`` since); the bytes it held."""
        name = os.path.basename(aside)
        for path in (
            aside,
            os.path.join(self.layout.trashed_experiment_dir(experiment_id), name),
            os.path.join(self.layout.experiment_dir(experiment_id), name),
        ):
            if os.path.isdir(path):
                size = folder_bytes(path)
                self._remove(path)
                return size
        return 0

    @staticmethod
    def _remove(path: str, in_store: bool = True) -> None:
        try:
            _rmtree(path)
        except OSError as exc:
            then = (
                "nothing reads it any more, and the next `litexp gc` finishes the removal"
                if in_store
                else "delete it by hand"
            )
            raise StorageError(f"Could not delete {path} ({exc.strerror or exc}); {then}.") from exc

    def _external_artifacts(
        self, run_dir: str, run_id: str, experiment_id: str, meta: Dict[str, Any], dry_run: bool
    ) -> List[Removal]:
        """The run's artifact folder when it is kept outside the run folder (and safe to delete)."""
        path = self._external_artifact_dir(run_dir, run_id, meta)
        if path is None:
            return []
        size = folder_bytes(path)
        if not dry_run:
            aside = path + REMOVING + os.urandom(4).hex()
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise fs.storage_error(exc, path) from exc
            self._remove(aside, in_store=False)
            try:  # the <run_id> folder holding it, when now empty
                os.rmdir(os.path.dirname(path))
            except OSError:
                pass
        return [("artifacts", experiment_id, run_id, path, size)]

    def _external_artifact_dir(self, run_dir: str, run_id: str, meta: Dict[str, Any]) -> Optional[str]:
        uri = meta.get("artifact_uri")
        if not uri:
            return None
        try:
            path = local_path_of(str(uri), f"Artifacts of run {run_id}")
        except InvalidInputError:
            return None  # not a local folder: the caller reports it
        inside = os.path.realpath(run_dir)
        real = os.path.realpath(path)
        if real == inside or real.startswith(inside + os.sep) or not os.path.isdir(path):
            return None
        if run_id not in real.split(os.sep):
            return None  # a path that does not name the run: never deleted on a meta.yaml's word
        parent = os.path.dirname(real) if os.path.basename(real) == ARTIFACTS else real
        if os.path.isfile(meta_path(parent)):
            return None  # another store's run folder (the store was copied): not ours
        return path

    # ------------------------------------------------------------ experiments
    def purge_experiment(
        self, experiment_id: str, older_than_ms: Optional[int] = None, dry_run: bool = False
    ) -> List[Removal]:
        """Remove a deleted experiment (in ``.trash``) for good, with every run in it and their
        artifacts kept elsewhere.

        Checked again under the store lock: NotFoundError when it is not in ``.trash`` (restored,
        or gone), InvalidInputError when it was deleted too recently. Returns one removal per run
        folder, then the experiment (the bytes besides its runs), then external artifact folders.
        """
        experiment_id = v.validate_experiment_id(str(experiment_id))
        exp_dir = self.layout.trashed_experiment_dir(experiment_id)
        if dry_run:
            self._check_experiment(exp_dir, experiment_id, older_than_ms)
        else:
            with self.lock:
                self._check_experiment(exp_dir, experiment_id, older_than_ms)
                try:
                    os.rename(meta_path(exp_dir), os.path.join(exp_dir, MARKER))
                except OSError as exc:
                    raise fs.storage_error(exc, meta_path(exp_dir)) from exc
        runs: List[Tuple[str, str, Dict[str, Any]]] = []
        removals: List[Removal] = []
        for run_dir in sorted(self.layout.run_dirs_of(exp_dir)):
            run_id = os.path.basename(run_dir)
            try:
                meta = fs.load_yaml(meta_path(run_dir))
            except Exception:
                continue
            if not isinstance(meta, dict) or str(meta.get("run_id") or meta.get("run_uuid")) != run_id:
                continue
            runs.append((run_dir, run_id, meta))
            removals.append(("run", experiment_id, run_id, run_dir, folder_bytes(run_dir)))
        total = folder_bytes(exp_dir)
        rest = max(total - sum(r[4] for r in removals), 0)
        removals.append(("experiment", experiment_id, None, exp_dir, rest))
        if not dry_run:
            self._remove(exp_dir)
            self._forget_index(experiment_id)
        problems = []
        for run_dir, run_id, meta in runs:
            try:
                removals += self._external_artifacts(run_dir, run_id, experiment_id, meta, dry_run)
            except StorageError as exc:
                problems.append(str(exc))
        if problems:
            raise StorageError(
                f"Experiment {experiment_id} was removed, but not all the artifacts its runs kept "
                f"elsewhere: {' '.join(problems)}"
            )
        return removals

    def _check_experiment(self, exp_dir: str, experiment_id: str, older_than_ms: Optional[int]) -> None:
        try:
            meta = fs.load_yaml(meta_path(exp_dir))
        except FileNotFoundError:
            raise NotFoundError(
                f"No deleted experiment {experiment_id} in {self.layout.trash} (restored, "
                "or removed by another process)."
            ) from None
        except Exception as exc:
            raise InvalidInputError(
                f"Experiment {experiment_id} was left alone: its meta.yaml in {exp_dir} cannot be read ({exc})."
            ) from None
        if not isinstance(meta, dict) or str(meta.get("experiment_id")) != experiment_id:
            raise InvalidInputError(
                f"Experiment folder {exp_dir} was left alone: its meta.yaml does not "
                f"describe experiment {experiment_id}."
            )
        if not experiment_is_due(meta.get("last_update_time"), older_than_ms, _now_ms()):
            raise InvalidInputError(
                f"Experiment {experiment_id} was deleted less than the requested age ago; it is kept."
            )

    # ------------------------------------------------------------ index
    def _forget_runs(self, exp_dir: str, run_ids: List[str]) -> None:
        """Drop the index rows of removed runs (an index that does not exist is not made)."""
        if not config.index_enabled() or not os.path.exists(index_path(exp_dir, self.network())):
            return
        index = open_index(exp_dir, self.network())
        if index is not None:
            try:
                index.drop(run_ids)
            finally:
                index.close()

    def _forget_index(self, experiment_id: str) -> None:
        """Delete the index files kept outside a removed experiment's folder (in the cache folder)."""
        for exp_dir in (self.layout.trashed_experiment_dir(experiment_id), self.layout.experiment_dir(experiment_id)):
            if exp_dir == self.layout.experiment_dir(experiment_id) and os.path.isfile(meta_path(exp_dir)):
                continue  # an experiment of that id lives there: its index is its own
            path = index_path(exp_dir, network=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(path + suffix)
                except OSError:
                    pass

    # ------------------------------------------------------------ unfinished removals
    def unfinished(self) -> List[Removal]:
        """Folders of removals cut short (see the module docs), not deleted."""
        found: List[Removal] = []
        for trashed in (False, True):
            for exp_dir in self.layout.experiment_folders(trashed):
                exp_id = os.path.basename(exp_dir)
                if not exp_id.isdigit():
                    continue
                if trashed and self._marked(exp_dir):
                    found.append(("experiment", exp_id, None, exp_dir, folder_bytes(exp_dir)))
                    continue
                for run_dir in sorted(self.layout.run_dirs_of(exp_dir)):
                    name = os.path.basename(run_dir)
                    if (REMOVING in name and not os.path.exists(meta_path(run_dir))) or self._marked(run_dir):
                        found.append(("run", exp_id, name.split(REMOVING)[0], run_dir, folder_bytes(run_dir)))
        return found

    @staticmethod
    def _marked(folder: str) -> bool:
        return os.path.isfile(os.path.join(folder, MARKER)) and not os.path.exists(meta_path(folder))

    def finish(self, dry_run: bool = False) -> List[Removal]:
        """Delete what removals cut short left (marked folders nobody reads); what was (would be) deleted."""
        found = self.unfinished()
        if dry_run:
            return found
        done: List[Removal] = []
        for kind, exp_id, run_id, path, size in found:
            if kind == "run" and REMOVING not in os.path.basename(path):
                with self.lock:  # a removal in progress holds the lock from marker to aside
                    if not self._marked(path):
                        continue
                    aside = _aside(os.path.dirname(path), os.path.basename(path))
                    try:
                        os.rename(path, aside)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        raise fs.storage_error(exc, path) from exc
                self._remove(aside)
            elif kind == "experiment":
                with self.lock:
                    if not self._marked(path):
                        continue
                self._remove(path)
                self._forget_index(exp_id)
            else:
                self._remove(path)
            if kind == "run" and run_id:
                self._forget_runs(os.path.dirname(path), [run_id])
            done.append((kind, exp_id, run_id, path, size))
        return done
