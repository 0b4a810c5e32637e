"""Qlib adapter: litexp's manager, experiments, recorders and errors that are also Qlib's classes.

Qlib's own code tells its objects apart by class: ``SigAnaRecord`` and
``RecorderCollector`` catch ``qlib.utils.exceptions.LoadObjectError``,
``RecorderCollector`` asserts ``isinstance(experiment, qlib.workflow.exp.Experiment)``,
``TrainerR`` and ``OnlineToolR`` test ``isinstance(rec, qlib.workflow.recorder.Recorder)``.
The classes here derive from litexp's class first (every behaviour is litexp's)
and from Qlib's abstract base second (so those checks hold), and the errors
derive from both litexp's and Qlib's error class.

Nobody needs to import this module: ``litexp.FileExpManager`` is this module's
:class:`FileExpManager` whenever ``qlib.workflow`` is loaded, which is the case
when Qlib builds the manager from ``qlib.init(exp_manager={"class":
"FileExpManager", "module_path": "litexp", ...})``; ``litexp.manager.FileExpManager``
stays the plain class. Importing this module imports Qlib (and Qlib imports
MLflow); ``import litexp`` alone imports neither.
"""

from __future__ import annotations

import pickle
from typing import Any, Optional, cast

try:
    import qlib.utils.exceptions as _qlib_errors
    import qlib.workflow.exp as _qlib_exp
    import qlib.workflow.expm as _qlib_expm
    import qlib.workflow.recorder as _qlib_recorder
except ImportError as exc:  # pragma: no cover - only without Qlib
    from .errors import LitexpError as _LitexpError

    raise _LitexpError(
        f"litexp.qlib_adapter needs Qlib ({exc}); install pyqlib, or use litexp.FileExpManager directly."
    ) from exc

from . import errors as _errors
from . import experiment as _experiment
from . import manager as _manager
from . import recorder as _recorder

__all__ = ["FileExpManager", "Experiment", "Recorder", "LoadObjectError", "ExpAlreadyExistError"]

# Qlib has no type information, so its classes are Any to mypy, and --strict refuses a subclass of
# Any (misc); without --strict that ignore is unused, hence unused-ignore.


class LoadObjectError(_errors.LoadObjectError, _qlib_errors.LoadObjectError):  # type: ignore[misc, unused-ignore]  # see above
    """An artifact could not be loaded: litexp's and Qlib's ``LoadObjectError`` at once."""


class ExpAlreadyExistError(_errors.ExpAlreadyExistError, _qlib_errors.ExpAlreadyExistError):  # type: ignore[misc, unused-ignore]  # see above
    """The experiment name is taken: litexp's and Qlib's ``ExpAlreadyExistError`` at once."""


class Recorder(_recorder.Recorder, _qlib_recorder.Recorder):  # type: ignore[misc, unused-ignore]  # see above
    """litexp's recorder that is also a ``qlib.workflow.recorder.Recorder``."""

    def load_object(self, name: str, unpickler: Any = pickle.Unpickler) -> Any:
        """Unpickle an artifact; any failure raises a LoadObjectError Qlib's code catches."""
        try:
            return super().load_object(name, unpickler)
        except _errors.LoadObjectError as exc:
            raise LoadObjectError(str(exc)) from exc.__cause__


class Experiment(_experiment.Experiment, _qlib_exp.Experiment):  # type: ignore[misc, unused-ignore]  # see above
    """litexp's experiment that is also a ``qlib.workflow.exp.Experiment``; its recorders are Qlib's too."""

    recorder_class = Recorder


class FileExpManager(_manager.FileExpManager, _qlib_expm.ExpManager):  # type: ignore[misc, unused-ignore]  # see above
    """litexp's file-backed manager that is also a ``qlib.workflow.expm.ExpManager``.

    Its experiments and recorders are this module's classes. As with Qlib's own
    managers, a changed default URI (``R.set_uri``) is written back to Qlib's
    config when that config names litexp, so subprocesses Qlib starts from its
    config (``call_in_subproc``) use the same store.
    """

    experiment_class = Experiment

    @property
    def default_uri(self) -> str:
        return self._default_uri

    @default_uri.setter
    def default_uri(self, value: Optional[str]) -> None:
        # read from the class, default_uri is the property object (mypy types it as its value)
        _manager.FileExpManager.default_uri.fset(self, value)  # type: ignore[attr-defined]  # see above
        from qlib.config import C

        config = C.get("exp_manager")
        if isinstance(config, dict) and str(config.get("module_path", "")).split(".")[0] == "litexp":
            config.setdefault("kwargs", {})["uri"] = self._default_uri

    def create_exp(self, experiment_name: Optional[str] = None) -> Experiment:
        """Create an experiment; a taken name raises an ExpAlreadyExistError Qlib's code catches."""
        try:
            return cast(Experiment, super().create_exp(experiment_name))  # experiment_class is Experiment
        except _errors.ExpAlreadyExistError as exc:
            raise ExpAlreadyExistError(str(exc)) from exc
