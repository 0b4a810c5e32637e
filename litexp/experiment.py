"""An experiment: a named group of recorders, as Qlib's ``Experiment`` presents it."""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional, Tuple, Union, cast

from .errors import InvalidInputError, NotFoundError
from .recorder import Recorder
from .records import ACTIVE
from .store import RunRecord, TrackingStore, ViewType, open_store

logger = logging.getLogger("litexp")


class Experiment:
    """One experiment of a store. ``start`` makes a recorder active; ``end`` ends it."""

    RT_D = "dict"
    RT_L = "list"
    #: ``max_results`` meaning "every recorder" (Qlib's MLflow class caps at 50,000; litexp has no cap).
    UNLIMITED: Optional[int] = None
    #: The class of the recorders this experiment hands out (the Qlib adapter sets Qlib's kind).
    recorder_class = Recorder

    def __init__(
        self, id: str, name: str, uri: str, async_logging: Optional[bool] = None, store: Optional[TrackingStore] = None
    ) -> None:
        self.id = id
        self.name = name
        self._uri = uri
        self._store = store
        self.active_recorder: Optional[Recorder] = None
        self._default_rec_name = "mlflow_recorder"
        self.async_logging = async_logging

    def __repr__(self) -> str:
        return f"{type(self).__name__}(info={self.info})"

    def __str__(self) -> str:
        return str(self.info)

    @property
    def store(self) -> TrackingStore:
        """The store holding this experiment (the manager's; reopened from the URI after unpickling)."""
        if self._store is None:
            self._store = open_store(self._uri, create=True)
        return self._store

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_store"] = None
        return state

    @property
    def info(self) -> Dict[str, Any]:
        """Qlib's summary: class, id, name, active_recorder id, recorder ids."""
        return {
            "class": "Experiment",
            "id": self.id,
            "name": self.name,
            "active_recorder": self.active_recorder.id if self.active_recorder is not None else None,
            "recorders": list(cast(Dict[str, Recorder], self.list_recorders()).keys()),
        }

    # recorders ---------------------------------------------------------------
    def start(
        self, *, recorder_id: Optional[str] = None, recorder_name: Optional[str] = None, resume: bool = False
    ) -> Recorder:
        """Start a new recorder (or, with ``resume=True``, the one found by id or name) and make it active."""
        if recorder_name is None:
            recorder_name = self._default_rec_name
        if resume:
            recorder, _ = self._get_or_create_rec(recorder_id=recorder_id, recorder_name=recorder_name)
        else:
            recorder = self.create_recorder(recorder_name)
        recorder.start_run()
        self.active_recorder = recorder
        return recorder

    def end(self, recorder_status: str = Recorder.STATUS_S) -> None:
        """End the active recorder with ``recorder_status``; nothing happens when none is active."""
        if self.active_recorder is not None:
            recorder, self.active_recorder = self.active_recorder, None
            recorder.end_run(recorder_status)

    def create_recorder(self, recorder_name: Optional[str] = None) -> Recorder:
        """A new, not yet started recorder (it gets its id from ``start_run``)."""
        if recorder_name is None:
            recorder_name = self._default_rec_name
        return self.recorder_class(
            self.id, self._uri, recorder_name, async_logging=self.async_logging, store=self.store
        )

    def _recorder(self, run: RunRecord) -> Recorder:
        return self.recorder_class(self.id, self._uri, run=run, async_logging=self.async_logging, store=self.store)

    def _get_recorder(self, recorder_id: Optional[str] = None, recorder_name: Optional[str] = None) -> Recorder:
        if recorder_id is None and recorder_name is None:
            raise InvalidInputError("Give a recorder id or a recorder name.")
        if recorder_id is not None:
            if self.active_recorder is not None and self.active_recorder.id == recorder_id:
                return self.active_recorder
            try:
                run = self.store.get_run(recorder_id, self.id)
            except NotFoundError:
                run = None
            if run is None or run.experiment_id != self.id or run.lifecycle_stage != ACTIVE:
                raise NotFoundError(f"No recorder with id {recorder_id!r} in experiment {self.name!r} ({self.id}).")
            return self._recorder(run)
        for recorder in cast(List[Recorder], self.list_recorders(rtype=Experiment.RT_L)):
            if recorder.name == recorder_name:
                return recorder
        raise NotFoundError(f"No recorder named {recorder_name!r} in experiment {self.name!r} ({self.id}).")

    def _get_or_create_rec(
        self, recorder_id: Optional[str] = None, recorder_name: Optional[str] = None
    ) -> Tuple[Recorder, bool]:
        try:
            return self._get_recorder(recorder_id=recorder_id, recorder_name=recorder_name), False
        except NotFoundError:
            if recorder_id is not None and recorder_name is None:
                raise
            return self.create_recorder(recorder_name), True

    def get_recorder(
        self,
        recorder_id: Optional[str] = None,
        recorder_name: Optional[str] = None,
        create: bool = True,
        start: bool = False,
    ) -> Recorder:
        """The active recorder when nothing is named; else by id, or by name (the latest with that name).

        ``create=True`` makes a recorder when none is found (started and made
        active with ``start=True``); ``create=False`` raises ValueError instead.
        """
        if recorder_id is None and recorder_name is None:
            if self.active_recorder is not None:
                return self.active_recorder
            if not create:
                raise NotFoundError(
                    f"Experiment {self.name!r} has no active recorder; start one with R.start() or name one."
                )
            recorder, is_new = self.create_recorder(), True
        elif create:
            recorder, is_new = self._get_or_create_rec(recorder_id=recorder_id, recorder_name=recorder_name)
        else:
            recorder, is_new = self._get_recorder(recorder_id=recorder_id, recorder_name=recorder_name), False
        if is_new and start:
            recorder.start_run()
            self.active_recorder = recorder
        return recorder

    def delete_recorder(self, recorder_id: Optional[str] = None, recorder_name: Optional[str] = None) -> None:
        """Soft-delete a recorder (MLflow's deleted state; the files stay)."""
        recorder = self._get_recorder(recorder_id=recorder_id, recorder_name=recorder_name)
        if self.active_recorder is not None and self.active_recorder.id == recorder.id:
            self.end(Recorder.STATUS_K)
        self.store.delete_run(cast(str, recorder.id))  # _get_recorder returns stored runs: they have an id

    def list_recorders(
        self,
        rtype: str = RT_D,
        max_results: Optional[int] = None,
        status: Optional[str] = None,
        filter_string: str = "",
    ) -> Union[Dict[str, Recorder], List[Recorder]]:
        """Active recorders, newest first (``start_time`` DESC), as a dict id → Recorder or a list.

        ``status`` keeps one status; ``filter_string`` uses the search language;
        ``max_results`` caps the count (all by default).
        """
        from ._query import select_runs

        if rtype not in (Experiment.RT_D, Experiment.RT_L):
            raise InvalidInputError(f"rtype must be {Experiment.RT_D!r} or {Experiment.RT_L!r}, got {rtype!r}.")
        if status is None:
            runs, _ = select_runs(self.store, [self.id], filter_string or None, max_results=max_results, full=False)
        else:
            runs, _ = select_runs(self.store, [self.id], filter_string or None, full=False)
            runs = [r for r in runs if r.status == str(status).upper()][:max_results]
        recorders = [self._recorder(r) for r in runs]
        if rtype == Experiment.RT_L:
            return recorders
        return {cast(str, r.id): r for r in recorders}  # recorders of stored runs have an id

    def list_stale_recorders(self, max_age: float = 300.0, include_unknown: bool = False) -> Dict[str, str]:
        """RUNNING recorders whose process is gone (same host) or whose heartbeat is older
        than ``max_age`` seconds: a dict id → reason.

        Runs without a litexp heartbeat (written by MLflow) are judged by their
        age only with ``include_unknown=True``.
        """
        from .runtime.liveness import stale_reason

        store = self.store
        found: Dict[str, str] = {}
        for run in store.load_runs([self.id], ViewType.ACTIVE_ONLY, filter_string="attributes.status = 'RUNNING'"):
            if run.status != "RUNNING":
                continue
            reason = stale_reason(run, store.heartbeat_of(run), max_age, include_unknown)
            if reason is not None:
                found[run.run_id] = reason
        return found

    def end_stale_recorders(self, max_age: float = 300.0, include_unknown: bool = False) -> Dict[str, str]:
        """End every stale recorder (see :meth:`list_stale_recorders`) as KILLED.

        The end time is the last heartbeat (the last sign of life), else now; never before the
        start time.
        Returns the recorders ended: id → reason.
        """
        store = self.store
        stale = self.list_stale_recorders(max_age, include_unknown)
        for run_id in stale:
            hb = store.read_heartbeat(run_id)
            end = hb.last_beat_ms if hb is not None and hb.last_beat_ms is not None else int(time.time() * 1000)
            start = store.get_run(run_id, self.id).start_time
            if start is not None and end < start:  # a heartbeat written just before the run's start time
                end = start
            store.update_run(run_id, Recorder.STATUS_K, end)
            store.remove_heartbeat(run_id)
        return stale

    def search_records(self, **kwargs: Any) -> Any:
        """Runs of this experiment as a pandas DataFrame (see ``ExpManager.search_records``)."""
        from ._query import search_frame

        return search_frame(self.store, [self.id], **kwargs)
