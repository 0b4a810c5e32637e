"""The file backend: MLflow's ``mlruns`` folders, and the only code that knows their layout."""

from .store import FileStore

__all__ = ["FileStore"]
