"""litexp: Qlib's experiment manager (``R``) on MLflow's ``mlruns`` files, without MLflow.

>>> from litexp import R
>>> with R.start(experiment_name="alpha"):
...     R.log_metrics(step=0, ic=0.1)

Public names: ``R``, ``QlibRecorder``, ``ExpManager``, ``FileExpManager``,
``Experiment``, ``Recorder``, ``push`` / ``pull`` (copy runs between stores),
``send_spool`` (data waiting for an MLflow server), ``doctor`` (check and repair a store),
``gc`` (remove deleted runs for good), ``report`` (an offline HTML report), ``tables`` (the
command line's tables as DataFrames) and the errors of :mod:`litexp.errors`. The API
classes are imported on first use, so ``import litexp`` stays cheap. When
``qlib.workflow`` is loaded, ``litexp.FileExpManager`` is the one of
:mod:`litexp.qlib_adapter`, whose objects are also Qlib's classes.
"""

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .errors import (
    AuthError,
    ExpAlreadyExistError,
    InvalidInputError,
    LitexpError,
    LoadObjectError,
    LockTimeoutError,
    LoggingFailedError,
    NotFoundError,
    SearchSyntaxError,
    ServerError,
    ServerUnreachableError,
    StorageError,
    StoreCorruptError,
    UndeliveredError,
)

if TYPE_CHECKING:  # pragma: no cover
    from . import tables
    from ._doctor import doctor
    from ._gc import gc
    from ._report import report
    from ._spool import send_spool
    from ._sync import pull, push
    from .experiment import Experiment
    from .manager import ExpManager, FileExpManager
    from .qlib_recorder import QlibRecorder, R
    from .recorder import Recorder

from ._version import __version__

_LAZY: Dict[str, Optional[str]] = {
    "R": "qlib_recorder",
    "QlibRecorder": "qlib_recorder",
    "ExpManager": "manager",
    "FileExpManager": "manager",
    "Experiment": "experiment",
    "Recorder": "recorder",
    "send_spool": "_spool",
    "push": "_sync",
    "pull": "_sync",
    "doctor": "_doctor",
    "gc": "_gc",
    "report": "_report",
    "tables": None,
}

__all__ = [
    "__version__",
    "R",
    "QlibRecorder",
    "ExpManager",
    "FileExpManager",
    "Experiment",
    "Recorder",
    "LitexpError",
    "InvalidInputError",
    "NotFoundError",
    "ExpAlreadyExistError",
    "LoadObjectError",
    "LockTimeoutError",
    "LoggingFailedError",
    "SearchSyntaxError",
    "StorageError",
    "StoreCorruptError",
    "ServerError",
    "ServerUnreachableError",
    "AuthError",
    "UndeliveredError",
    "send_spool",
    "push",
    "pull",
    "doctor",
    "gc",
    "report",
    "tables",
]


def __getattr__(name: str) -> Any:
    if name == "FileExpManager" and "qlib.workflow" in sys.modules:
        # Qlib is loaded, so it is Qlib that asks (``qlib.init(exp_manager={"class":
        # "FileExpManager", "module_path": "litexp"})``): its manager, experiments, recorders
        # and errors must be Qlib's classes too. Not cached: the answer follows sys.modules.
        from .qlib_adapter import FileExpManager

        return FileExpManager
    if name not in _LAZY:
        raise AttributeError(f"module 'litexp' has no attribute {name!r}")
    import importlib

    module = _LAZY[name]
    if module is None:  # a public submodule
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if name != "FileExpManager":
        globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
