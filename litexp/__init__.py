"""litexp: Qlib's experiment manager (``R``) on MLflow's ``mlruns`` files, without MLflow.

>>> from litexp import R
>>> with R.start(experiment_name="alpha"):
...     R.log_metrics(step=0, ic=0.1)

Public names: ``R``, ``QlibRecorder``, ``ExpManager``, ``FileExpManager``,
``Experiment``, ``Recorder`` and the errors of :mod:`litexp.errors`.
"""

from .errors import (
    ExpAlreadyExistError,
    InvalidInputError,
    LitexpError,
    LoadObjectError,
    LockTimeoutError,
    LoggingFailedError,
    NotFoundError,
    SearchSyntaxError,
    StorageError,
)
from .experiment import Experiment
from .manager import ExpManager, FileExpManager
from .qlib_recorder import QlibRecorder, R
from .recorder import Recorder

__version__ = "0.1.0"

__all__ = [
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
]
