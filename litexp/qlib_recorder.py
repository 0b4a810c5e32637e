"""``R``: Qlib's global recorder facade (``QlibRecorder``) over an experiment manager."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, cast

from .errors import InvalidInputError, LoadObjectError
from .experiment import Experiment
from .manager import ExpManager, FileExpManager
from .recorder import Recorder
from .records import DEFAULT_STORE_FOLDER
from .store import path_to_uri


class QlibRecorder:
    """The ``R`` object: start experiments, log to the active recorder, find and search runs.

    Calls that log (``log_params``, ``log_metrics``, ``set_tags``, ``save_objects``,
    ``log_artifact``, ``download_artifact``) outside any ``start`` implicitly start
    the default experiment with a recorder named ``mlflow_recorder``, as Qlib does.
    """

    def __init__(self, exp_manager: Optional[ExpManager] = None) -> None:
        self._exp_manager = exp_manager

    def __repr__(self) -> str:
        return f"{type(self).__name__}(manager={self._exp_manager!r})"

    @property
    def exp_manager(self) -> ExpManager:
        """The manager; by default a FileExpManager on ``<cwd>/mlruns`` made at first use."""
        if self._exp_manager is None:
            self._exp_manager = FileExpManager(
                path_to_uri(os.path.join(os.getcwd(), DEFAULT_STORE_FOLDER)), "Experiment"
            )
        return self._exp_manager

    def set_exp_manager(self, exp_manager: ExpManager) -> None:
        """Use another manager (ends nothing; call ``end_exp`` first if a run is active)."""
        self._exp_manager = exp_manager

    # running ----------------------------------------------------------------
    @contextmanager
    def start(
        self,
        *,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
        recorder_id: Optional[str] = None,
        recorder_name: Optional[str] = None,
        uri: Optional[str] = None,
        resume: bool = False,
    ) -> Iterator[Experiment]:
        """Run the ``with`` body inside a recorder, yielding the Experiment.

        Normal exit (or ``return``) ends the recorder FINISHED; an Exception ends it
        FAILED; KeyboardInterrupt and other BaseExceptions end it KILLED. The
        exception is re-raised.
        """
        experiment = self.start_exp(
            experiment_id=experiment_id,
            experiment_name=experiment_name,
            recorder_id=recorder_id,
            recorder_name=recorder_name,
            uri=uri,
            resume=resume,
        )
        try:
            yield experiment
        except Exception:
            self.end_exp(Recorder.STATUS_FA)
            raise
        except BaseException:
            self.end_exp(Recorder.STATUS_K)
            raise
        self.end_exp(Recorder.STATUS_FI)

    def start_exp(
        self,
        *,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
        recorder_id: Optional[str] = None,
        recorder_name: Optional[str] = None,
        uri: Optional[str] = None,
        resume: bool = False,
    ) -> Experiment:
        """Get or create the experiment, make it active and start a recorder (resumed with ``resume=True``)."""
        return self.exp_manager.start_exp(
            experiment_id=experiment_id,
            experiment_name=experiment_name,
            recorder_id=recorder_id,
            recorder_name=recorder_name,
            uri=uri,
            resume=resume,
        )

    def end_exp(self, recorder_status: str = Recorder.STATUS_FI) -> None:
        """End the active recorder with ``recorder_status``; nothing happens when none is active."""
        self.exp_manager.end_exp(recorder_status)

    # finding ---------------------------------------------------------------------
    def search_records(self, experiment_ids: Any, **kwargs: Any) -> Any:
        """Runs of the experiments as a pandas DataFrame (MLflow's ``search_runs`` columns).

        kwargs: ``filter_string``, ``run_view_type``, ``max_results`` (None = all),
        ``order_by``, ``page_token``. See docs/search.md for the language.
        """
        return self.exp_manager.search_records(experiment_ids, **kwargs)

    def list_experiments(self) -> Dict[str, Experiment]:
        """Active experiments: dict name → Experiment."""
        return self.exp_manager.list_experiments()

    def list_recorders(
        self, experiment_id: Optional[str] = None, experiment_name: Optional[str] = None
    ) -> Dict[str, Recorder]:
        """Active recorders of an experiment (the active or default one when none is named), newest first.

        A missing experiment raises ValueError; nothing is created.
        """
        recorders = self.get_exp(
            experiment_id=experiment_id, experiment_name=experiment_name, create=False
        ).list_recorders()
        return cast(Dict[str, Recorder], recorders)  # the default rtype: a dict

    def get_exp(
        self,
        *,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
        create: bool = True,
        start: bool = False,
    ) -> Experiment:
        """The active experiment when nothing is named (else the default one), or by id / name."""
        return self.exp_manager.get_exp(
            experiment_id=experiment_id, experiment_name=experiment_name, create=create, start=start
        )

    def delete_exp(self, experiment_id: Optional[str] = None, experiment_name: Optional[str] = None) -> None:
        """Soft-delete an experiment (moved to ``.trash``)."""
        self.exp_manager.delete_exp(experiment_id, experiment_name)

    def get_uri(self) -> str:
        """The tracking URI in use (the running experiment's, else the default)."""
        return self.exp_manager.uri

    def set_uri(self, uri: Optional[str]) -> None:
        """Set the default tracking URI (None: ``<cwd>/mlruns``)."""
        self.exp_manager.default_uri = uri

    @contextmanager
    def uri_context(self, uri: str) -> Iterator[None]:
        """Use ``uri`` as the default tracking URI inside the ``with`` block."""
        previous = self.exp_manager.default_uri
        self.exp_manager.default_uri = uri
        try:
            yield
        finally:
            self.exp_manager.default_uri = previous

    def get_recorder(
        self,
        *,
        recorder_id: Optional[str] = None,
        recorder_name: Optional[str] = None,
        experiment_id: Optional[str] = None,
        experiment_name: Optional[str] = None,
    ) -> Recorder:
        """The active recorder when nothing is named; else by id, or by name (the latest). Missing → ValueError."""
        experiment = self.get_exp(experiment_id=experiment_id, experiment_name=experiment_name, create=False)
        return experiment.get_recorder(recorder_id, recorder_name, create=False, start=False)

    def delete_recorder(self, recorder_id: Optional[str] = None, recorder_name: Optional[str] = None) -> None:
        """Soft-delete a recorder of the active (or default) experiment. Nothing is created."""
        self.get_exp(create=False).delete_recorder(recorder_id, recorder_name)

    # logging to the active recorder ----------------------------------------------------------
    def _active(self) -> Recorder:
        manager = self._exp_manager
        if manager is not None:  # fast path: a recorder is running
            experiment = manager.active_experiment
            if experiment is not None and experiment.active_recorder is not None:
                return experiment.active_recorder
        return self.get_exp(start=True).get_recorder(start=True)

    def save_objects(
        self, local_path: Optional[str] = None, artifact_path: Optional[str] = None, **kwargs: Any
    ) -> None:
        """Save files from ``local_path``, or pickle each keyword argument as an artifact (not both)."""
        if local_path is not None and kwargs:
            raise InvalidInputError("Pass either local_path (files to save) or objects as keywords, not both.")
        self._active().save_objects(local_path, artifact_path, **kwargs)

    def load_object(self, name: str) -> Any:
        """Unpickle an artifact of the active recorder (LoadObjectError on any failure).

        Without a running recorder nothing is created: LoadObjectError says how to
        name the recorder instead.
        """
        manager = self._exp_manager
        experiment = manager.active_experiment if manager is not None else None
        recorder = experiment.active_recorder if experiment is not None else None
        if recorder is None:
            raise LoadObjectError(
                f"Cannot load {name!r}: no recorder is running. Use "
                "R.get_recorder(recorder_id=..., experiment_name=...).load_object(name)."
            )
        return recorder.load_object(name)

    def log_params(self, **kwargs: Any) -> None:
        self._active().log_params(**kwargs)

    def log_metrics(self, step: Optional[int] = None, **kwargs: Any) -> None:
        self._active().log_metrics(step, **kwargs)

    def log_artifact(self, local_path: str, artifact_path: Optional[str] = None) -> None:
        self._active().log_artifact(local_path, artifact_path)

    def download_artifact(self, path: str, dst_path: Optional[str] = None) -> str:
        """Copy an artifact of the active recorder locally and return its path."""
        return self._active().download_artifact(path, dst_path)

    def set_tags(self, **kwargs: Any) -> None:
        self._active().set_tags(**kwargs)


R = QlibRecorder()
