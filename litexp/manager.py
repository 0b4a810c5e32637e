"""Experiment managers: Qlib's ``ExpManager`` interface and the file-backed ``FileExpManager``."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from ._query import search_frame
from .errors import InvalidInputError, NotFoundError
from .experiment import Experiment
from .recorder import Recorder
from .records import ACTIVE, DEFAULT_STORE_FOLDER
from .store import TrackingStore, ViewType, check_uri, open_store, path_to_uri
from .store.file.experiments import Experiments

logger = logging.getLogger("litexp")


def _no_extra(call: str, kwargs: Dict[str, Any]) -> None:
    if kwargs:
        raise InvalidInputError(f"{call}() got unknown argument(s): {', '.join(sorted(kwargs))}.")


class ExpManager:
    """Creates, finds and deletes experiments and tracks the active one (Qlib's interface).

    ``uri`` is the active experiment's URI while one runs (``start_exp(uri=...)``),
    else ``default_uri``.
    """

    def __init__(self, uri: str, default_exp_name: Optional[str], async_logging: Optional[bool] = None) -> None:
        self.default_uri = uri
        self._active_exp_uri: Optional[str] = None
        self._default_exp_name = default_exp_name or "Experiment"
        self.active_experiment: Optional[Experiment] = None
        self.async_logging = async_logging

    def __repr__(self) -> str:
        return f"{type(self).__name__}(default_uri={self.default_uri!r}, current_uri={self.uri!r})"

    # uri -------------------------------------------------------------------------
    @property
    def default_uri(self) -> str:
        return self._default_uri

    @default_uri.setter
    def default_uri(self, value: Optional[str]) -> None:
        if value is None:
            value = path_to_uri(os.path.join(os.getcwd(), DEFAULT_STORE_FOLDER))
        check_uri(value)  # refuse unusable URIs now
        self._default_uri = value

    @property
    def uri(self) -> str:
        """The URI in use: the active experiment's, else the default."""
        return self._active_exp_uri or self._default_uri

    def _open_store(self, uri: str, create: bool = False) -> TrackingStore:
        raise NotImplementedError

    @property
    def store(self) -> TrackingStore:
        """The store of :attr:`uri`, to read (a missing store is a NotFoundError; nothing is written)."""
        return self._open_store(self.uri)

    @property
    def writable_store(self) -> TrackingStore:
        """The store of :attr:`uri`, made by the first experiment created when it does not exist."""
        return self._open_store(self.uri, create=True)

    #: The class of the experiments this manager hands out (the Qlib adapter sets Qlib's kind).
    experiment_class = Experiment

    def _experiment(self, experiment_id: str, name: str, store: Optional[TrackingStore] = None) -> Experiment:
        return self.experiment_class(
            experiment_id, name, self.uri, async_logging=self.async_logging, store=store or self.writable_store
        )

    # running ------------------------------------------------------------------
    def start_exp(
        self,
        *,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
        recorder_id: Optional[str] = None,
        recorder_name: Optional[str] = None,
        uri: Optional[str] = None,
        resume: bool = False,
        **kwargs: Any,
    ) -> Experiment:
        """Get or create the experiment (the default one when none is named), make it active and start a recorder.

        ``kwargs`` exists for Qlib's signature; any argument in it is refused.
        """
        _no_extra("start_exp", kwargs)
        if uri is not None:
            check_uri(uri)
        if self.active_experiment is not None and self.active_experiment.active_recorder is not None:
            raise InvalidInputError(
                f"Experiment {self.active_experiment.name!r} is already running a recorder; "
                "end it (R.end_exp()) before starting another."
            )
        self._active_exp_uri = uri
        try:
            if experiment_name is None and experiment_id is None:
                experiment_name = self._default_exp_name
            experiment, _ = self._get_or_create_exp(experiment_id=experiment_id, experiment_name=experiment_name)
            experiment.start(recorder_id=recorder_id, recorder_name=recorder_name, resume=resume)
        except BaseException:
            self._active_exp_uri = None
            raise
        self.active_experiment = experiment
        return experiment

    def end_exp(self, recorder_status: str = Recorder.STATUS_S, **kwargs: Any) -> None:
        """End the active experiment's recorder; nothing happens when none is active."""
        _no_extra("end_exp", kwargs)
        experiment, self.active_experiment = self.active_experiment, None
        try:
            if experiment is not None:
                experiment.end(recorder_status)
        finally:
            self._active_exp_uri = None

    # experiments ----------------------------------------------------------------
    def create_exp(self, experiment_name: Optional[str] = None) -> Experiment:
        """Create an experiment; ExpAlreadyExistError when the name is taken."""
        if experiment_name is None:
            raise InvalidInputError("create_exp needs an experiment name.")
        record = self.writable_store.create_experiment(experiment_name)
        return self._experiment(record.experiment_id, record.name)

    def _get_exp(self, experiment_id: Optional[str] = None, experiment_name: Optional[str] = None) -> Experiment:
        if experiment_id is None and experiment_name is None:
            raise InvalidInputError("Give an experiment id or an experiment name.")
        if experiment_id is None:
            # A file store answers from the experiment names it remembers, checked by stat on every
            # call; that check's stat of the root also finds out whether the store exists, so the
            # store is opened without the existence check here (opening writes nothing).
            store = self._open_store(self.uri, create=True)
            experiments = getattr(store, "experiments", None)
            if isinstance(experiments, Experiments):
                name = str(experiment_name)
                exp_id = experiments.find_id(name)
                if exp_id is None:
                    self._open_store(self.uri)  # a missing store: the NotFoundError naming it
                    raise NotFoundError(f"No active experiment named {experiment_name!r} in {self.uri}.")
                return self._known_experiment(exp_id, name, store)
        store = self.store
        if experiment_id is not None:
            try:
                record = store.get_experiment(str(experiment_id))
            except NotFoundError:
                record = None
            if record is None or record.lifecycle_stage != ACTIVE:
                raise NotFoundError(f"No active experiment with id {experiment_id!r} in {self.uri}.")
            if experiment_name is not None and record.name != experiment_name:
                raise NotFoundError(f"Experiment {experiment_id} is called {record.name!r}, not {experiment_name!r}.")
        else:
            record = store.find_experiment(str(experiment_name), ViewType.ACTIVE_ONLY)
            if record is None:
                raise NotFoundError(f"No active experiment named {experiment_name!r} in {self.uri}.")
        return self._known_experiment(record.experiment_id, record.name, store)

    def _known_experiment(self, experiment_id: str, name: str, store: TrackingStore) -> Experiment:
        if self.active_experiment is not None and self.active_experiment.id == experiment_id:
            return self.active_experiment
        return self._experiment(experiment_id, name, store)

    def _get_or_create_exp(
        self, experiment_id: Optional[str] = None, experiment_name: Optional[str] = None
    ) -> Tuple[Experiment, bool]:
        try:
            return self._get_exp(experiment_id=experiment_id, experiment_name=experiment_name), False
        except NotFoundError:
            if experiment_id is not None and experiment_name is None:
                raise
        name = self._default_exp_name if experiment_name is None else experiment_name
        record, created = self.writable_store.get_or_create_experiment(name)
        return self._experiment(record.experiment_id, record.name), created

    def get_exp(
        self,
        *,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
        create: bool = True,
        start: bool = False,
    ) -> Experiment:
        """The active experiment when nothing is named, else the default one; by id or name otherwise.

        ``create=True`` makes a missing experiment (race-free across processes);
        ``create=False`` raises ValueError. ``start=True`` also makes it active
        and starts a recorder when none is active.
        """
        if experiment_id is None and experiment_name is None:
            if self.active_experiment is not None:
                return self.active_experiment
            experiment_name = self._default_exp_name
        if create:
            experiment, _ = self._get_or_create_exp(experiment_id=experiment_id, experiment_name=experiment_name)
        else:
            experiment = self._get_exp(experiment_id=experiment_id, experiment_name=experiment_name)
        if self.active_experiment is None and start:
            self.active_experiment = experiment
            experiment.start()
        return experiment

    def delete_exp(self, experiment_id: Optional[str] = None, experiment_name: Optional[str] = None) -> None:
        """Soft-delete an experiment (moved to ``.trash``, as MLflow does)."""
        experiment = self._get_exp(experiment_id=experiment_id, experiment_name=experiment_name)
        if self.active_experiment is not None and self.active_experiment.id == experiment.id:
            self.end_exp(Recorder.STATUS_K)
        self.store.delete_experiment(experiment.id)

    def list_experiments(
        self, filter_string: Optional[str] = None, order_by: Optional[Sequence[str]] = None
    ) -> Dict[str, Experiment]:
        """Active experiments as a dict name → Experiment, newest first (``creation_time DESC``, then id);
        optionally filtered and ordered like MLflow's ``search_experiments``."""
        from .search import filter_experiments

        store = self.store
        records = filter_experiments(
            store.list_experiments(ViewType.ACTIVE_ONLY), filter_string, list(order_by) if order_by else None
        )
        return {r.name: self._experiment(r.experiment_id, r.name, store) for r in records}

    def end_stale_recorders(
        self, experiment_ids: Optional[Sequence[str]] = None, max_age: float = 300.0, include_unknown: bool = False
    ) -> Dict[str, str]:
        """End as KILLED every stale recorder of these experiments (all active ones by default).

        Stale: RUNNING, and its process is gone (same host) or its heartbeat is
        older than ``max_age`` seconds. Returns id → reason.
        """
        if experiment_ids is None:
            experiment_ids = [r.experiment_id for r in self.store.list_experiments(ViewType.ACTIVE_ONLY)]
        ended: Dict[str, str] = {}
        for exp_id in experiment_ids:
            record = self.store.get_experiment(str(exp_id))
            ended.update(
                self._experiment(record.experiment_id, record.name).end_stale_recorders(max_age, include_unknown)
            )
        return ended

    def search_records(self, experiment_ids: Union[Sequence[str], str, None] = None, **kwargs: Any) -> Any:
        """Runs as a pandas DataFrame with MLflow's ``search_runs`` columns.

        kwargs: ``filter_string``, ``run_view_type`` (1/2/3 or ACTIVE_ONLY/DELETED_ONLY/ALL),
        ``max_results`` (None = every match), ``order_by``, ``page_token``.
        Without ids: every active experiment.
        """
        if experiment_ids is None:
            experiment_ids = [r.experiment_id for r in self.store.list_experiments(ViewType.ACTIVE_ONLY)]
        elif isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        return search_frame(self.store, list(experiment_ids), **kwargs)


class FileExpManager(ExpManager):
    """The experiment manager on MLflow's ``mlruns`` folders.

    Qlib can load it through its config::

        qlib.init(exp_manager={"class": "FileExpManager", "module_path": "litexp",
                               "kwargs": {"uri": "file:./mlruns", "default_exp_name": "Experiment"}})
    """

    def _open_store(self, uri: str, create: bool = False) -> TrackingStore:
        return open_store(uri, create)
