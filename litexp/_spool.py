"""The spool of data waiting for an MLflow server: what is in it, and sending it.

Logging to an ``http(s)://`` store never blocks on the network; while the
server cannot be reached, a run's batches and final status wait on disk under
``LITEXP_SPOOL_DIR``. They are sent by the run itself when the server returns,
and otherwise by :func:`send_spool` (``litexp spool --send``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from .errors import LitexpError, UndeliveredError


@dataclass(frozen=True)
class SpooledRun:
    """One run with data waiting for its server."""

    tracking_uri: str
    run_id: str
    points: int
    path: str


def _servers(uri: Optional[str]) -> List[str]:
    from .store.rest import spooled_servers
    from .store.uri import canonical_uri

    return [canonical_uri(uri)] if uri else spooled_servers()


def spool_status(uri: Optional[str] = None) -> List[SpooledRun]:
    """Every spooled run (of the server ``uri``, or of every server)."""
    from .store.rest import Spool

    found = []
    for server in _servers(uri):
        spool = Spool(server)
        for run_id in spool.run_ids():
            found.append(SpooledRun(server, run_id, spool.points(run_id), spool.path(run_id)))
    return found


def send_spool(uri: Optional[str] = None) -> Dict[str, int]:
    """Send every spooled run (of ``uri``, or of every server) now: run id → points delivered.

    Each run is tried with the full retry policy; runs that still cannot be sent
    stay spooled and are named in the UndeliveredError raised at the end.
    """
    return send_spooled(spool_status(uri))


def send_spooled(waiting: List[SpooledRun]) -> Dict[str, int]:
    """Send the runs :func:`spool_status` listed (see :func:`send_spool`)."""
    from .store import open_store
    from .store.rest import RestStore

    delivered: Dict[str, int] = {}
    failed: List[str] = []
    for entry in waiting:
        store = open_store(entry.tracking_uri, create=True)
        assert isinstance(store, RestStore)
        try:
            store.flush_run(entry.run_id)
        except LitexpError as exc:
            failed.append(f"{entry.run_id}: {exc}")
        else:
            delivered[entry.run_id] = entry.points
    if failed:
        raise UndeliveredError(f"{len(failed)} spooled run(s) could not be sent:\n" + "\n".join(failed))
    return delivered
