"""The store of an MLflow tracking server (``http://`` / ``https://`` tracking URIs), standard library only."""

from .spool import Spool, spooled_servers
from .store import RestStore

__all__ = ["RestStore", "Spool", "spooled_servers"]
