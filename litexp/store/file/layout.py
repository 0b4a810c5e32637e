"""Where every file of a ``mlruns`` store lives: the only module that spells paths and folder names.

Layout (MLflow's, see ``mlruns-format.md``)::

    <root>/.trash/<experiment_id>/...             deleted experiments
    <root>/<experiment_id>/meta.yaml              experiment
    <root>/<experiment_id>/tags/<key>
    <root>/<experiment_id>/datasets/<id>/meta.yaml
    <root>/<experiment_id>/<run_id>/meta.yaml     run
    <root>/<experiment_id>/<run_id>/{metrics,params,tags,artifacts,inputs}/

and litexp's own files, which MLflow ignores: ``<root>/.litexp.lock`` /
``.litexp.softlock`` (the store lock), ``<experiment>/.litexp-index.sqlite`` (the
search index, with SQLite's ``-wal``/``-shm`` files) and ``<run>/.litexp-heartbeat`` (the process running the run).
"""

from __future__ import annotations

import os
from typing import Dict, Iterator, List, Optional

from ...errors import NotFoundError
from .. import validation as v
from . import fs

META = "meta.yaml"
TRASH = ".trash"
METRICS = "metrics"
PARAMS = "params"
TAGS = "tags"
ARTIFACTS = "artifacts"
INPUTS = "inputs"
DATASETS = "datasets"
MODELS = "models"  # the model registry folder `mlflow server` makes at the root
TRACES = "traces"
RUN_SUBFOLDERS = (METRICS, PARAMS, ARTIFACTS, TAGS)
#: Folders of an experiment folder that are not runs.
RESERVED_EXPERIMENT_FOLDERS = frozenset({TAGS, DATASETS, TRACES, MODELS})
#: Folders of the root that are not experiments.
#: Where ``litexp doctor --fix`` keeps what it takes out of a run (a folder inside the run folder;
#: MLflow reads only meta.yaml, metrics, params and tags there).
DOCTOR_RUN_ASIDE = ".litexp-doctor"
#: Where it keeps what it takes out of the root or an experiment folder: MLflow's file store skips
#: root folders whose name ends in ``.trash`` (and fails on other names starting with ``.``).
DOCTOR_STORE_ASIDE = ".litexp-doctor.trash"
#: What ``gc`` renames a meta.yaml to while its run or experiment is removed (MLflow ignores it).
PURGE_MARKER = ".litexp-removing.yaml"
#: Inserted by ``gc`` in the name of a run folder (or external artifact folder) being removed.
PURGE_INFIX = ".litexp-removing-"
RESERVED_ROOT_FOLDERS = frozenset({TRASH, MODELS, DOCTOR_STORE_ASIDE})

HEARTBEAT = ".litexp-heartbeat"
INDEX_FILE = ".litexp-index.sqlite"
OLD_INDEX_FILE = ".litexp-index.json"  # the index of litexp 0.1, removed when seen
LOCK_FILE = ".litexp.lock"
SOFT_LOCK_FILE = ".litexp.softlock"

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

#: Kind of a key → the run subfolder holding its files.
DATA_FOLDERS = {"Metric": METRICS, "Param": PARAMS, "Tag": TAGS}


def meta_path(folder: str) -> str:
    """The meta.yaml of an experiment or run folder."""
    return os.path.join(folder, META)


def key_path(folder: str, key: str) -> str:
    """The file of a metric, param or tag key (``/`` in a key makes subfolders)."""
    return os.path.join(folder, *key.split("/"))


class Layout:
    """The paths of one store, and where a run or an experiment is found.

    Lookups by id go to the path (``<root>/<experiment>/<run>``), never through a
    cached folder listing: on a network file system another host's new folder
    can be missing from this host's listing for a while, but not from a lookup.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        self.trash = os.path.join(self.root, TRASH)
        self._run_dirs: Dict[str, str] = {}

    # ------------------------------------------------------------ store files
    def exists(self) -> bool:
        return os.path.isdir(self.root)

    # ------------------------------------------------------------ experiments
    def experiment_dir(self, experiment_id: str) -> str:
        """Where the active experiment's folder is (or will be)."""
        return os.path.join(self.root, experiment_id)

    def trashed_experiment_dir(self, experiment_id: str) -> str:
        return os.path.join(self.trash, experiment_id)

    def find_experiment_dir(self, experiment_id: str) -> Optional[str]:
        """The folder of an experiment, active first, then in the trash; None if missing."""
        experiment_id = v.validate_experiment_id(experiment_id)
        for path in (self.experiment_dir(experiment_id), self.trashed_experiment_dir(experiment_id)):
            if os.path.isfile(meta_path(path)):
                return path
        return None

    def is_trashed(self, exp_dir: str) -> bool:
        return os.path.dirname(exp_dir) == self.trash

    def experiment_folders(self, trashed: bool) -> List[str]:
        """Names of the folders that may be experiments (sorted), active or in the trash."""
        parent = self.trash if trashed else self.root
        names = sorted(fs.list_subfolders(parent))
        if not trashed:
            names = [n for n in names if n not in RESERVED_ROOT_FOLDERS]
        return [os.path.join(parent, n) for n in names]

    @staticmethod
    def experiment_tags_dir(exp_dir: str) -> str:
        return os.path.join(exp_dir, TAGS)

    @staticmethod
    def datasets_dir(exp_dir: str) -> str:
        return os.path.join(exp_dir, DATASETS)

    @staticmethod
    def index_file(exp_dir: str) -> str:
        return os.path.join(exp_dir, INDEX_FILE)

    @staticmethod
    def run_dirs_of(exp_dir: str) -> List[str]:
        """The folders of an experiment that may be runs."""
        return [os.path.join(exp_dir, n) for n in fs.list_subfolders(exp_dir) if n not in RESERVED_EXPERIMENT_FOLDERS]

    # ------------------------------------------------------------ runs
    @staticmethod
    def run_dir_in(exp_dir: str, run_id: str) -> str:
        return os.path.join(exp_dir, run_id)

    @staticmethod
    def data_dir(run_dir: str, kind: str) -> str:
        """The folder of a run's metrics, params or tags (kind ``Metric``/``Param``/``Tag``)."""
        return os.path.join(run_dir, DATA_FOLDERS[kind])

    @staticmethod
    def artifacts_dir(run_dir: str) -> str:
        return os.path.join(run_dir, ARTIFACTS)

    @staticmethod
    def inputs_dir(run_dir: str) -> str:
        return os.path.join(run_dir, INPUTS)

    @staticmethod
    def heartbeat_file(run_dir: str) -> str:
        return os.path.join(run_dir, HEARTBEAT)

    @staticmethod
    def is_run_dir(path: str) -> bool:
        return os.path.isfile(meta_path(path)) and os.path.isdir(os.path.join(path, METRICS))

    def remember_run(self, run_id: str, run_dir: str) -> None:
        self._run_dirs[run_id] = run_dir

    def remembered_run_dir(self, run_id: str) -> Optional[str]:
        """The folder this store last found or made for a run, unchecked (None when not known):
        for a caller whose next file operation in it finds out whether it is still there."""
        return self._run_dirs.get(run_id)

    def forget_runs(self) -> None:
        """Drop the remembered run folders (experiments moved to or from the trash)."""
        self._run_dirs.clear()

    def _run_candidates(self, run_id: str, experiment_id: Optional[str]) -> Iterator[str]:
        if experiment_id is not None:
            exp_id = v.validate_experiment_id(experiment_id)
            yield os.path.join(self.experiment_dir(exp_id), run_id)
            yield os.path.join(self.trashed_experiment_dir(exp_id), run_id)
        for trashed in (False, True):
            for exp_dir in self.experiment_folders(trashed):
                yield os.path.join(exp_dir, run_id)

    def find_run_dir(self, run_id: str, experiment_id: Optional[str] = None) -> str:
        """The folder of a run: the remembered one, the experiment's (when known), else a search."""
        run_id = v.validate_run_id(run_id)
        cached = self._run_dirs.get(run_id)
        if cached and os.path.isfile(meta_path(cached)):
            return cached
        for candidate in self._run_candidates(run_id, experiment_id):
            if self.is_run_dir(candidate):
                self._run_dirs[run_id] = candidate
                return candidate
        raise NotFoundError(f"No recorder (run) with id {run_id!r} in the store {self.root}.")
