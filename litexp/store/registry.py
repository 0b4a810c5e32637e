"""Stores chosen by URI scheme: the one place a backend plugs in.

``file`` (and plain paths) opens a :class:`~litexp.store.file.FileStore`,
``http`` and ``https`` a :class:`~litexp.store.rest.RestStore`; a new backend calls :func:`register_scheme` with a factory. Stores are cached per
location, so every object of a process shares one store (and its caches).
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, Tuple

from ..errors import InvalidInputError, NotFoundError
from .interface import TrackingStore
from .uri import FILE, canonical_uri, split_uri

Factory = Callable[[str], TrackingStore]

_factories: Dict[str, Factory] = {}
_stores: Dict[Tuple[str, str], TrackingStore] = {}
_lock = threading.Lock()


def register_scheme(scheme: str, factory: Factory) -> None:
    """Open URIs of ``scheme`` with ``factory(location)``."""
    _factories[scheme.lower()] = factory


def _file_store(path: str) -> TrackingStore:
    from .file import FileStore

    return FileStore(path)


def _rest_store(uri: str) -> TrackingStore:
    from .rest import RestStore

    return RestStore(uri)


register_scheme(FILE, _file_store)
register_scheme("http", _rest_store)
register_scheme("https", _rest_store)


def _factory(uri: str) -> Tuple[Factory, str, str]:
    """The backend factory, scheme and location of a URI; an unknown scheme is refused."""
    scheme, location = split_uri(uri)
    factory = _factories.get(scheme)
    if factory is None:
        known = ", ".join(sorted(_factories))
        raise InvalidInputError(f"Tracking URI {uri!r} uses the scheme {scheme!r}; litexp opens {known} stores.")
    return factory, scheme, location


def check_uri(uri: str) -> None:
    """Refuse now a URI that no registered backend can open."""
    _factory(uri)


def open_store(uri: str, create: bool = False) -> TrackingStore:
    """The (cached) store of a tracking URI.

    Without ``create`` a missing store is a NotFoundError naming it, and nothing
    is written; with ``create`` (the writers: ``R.start``, ``create_exp``) the
    store is made by the first experiment created in it.
    """
    factory, scheme, location = _factory(uri)
    if scheme != FILE:
        location = canonical_uri(location)
    with _lock:
        store = _stores.get((scheme, location))
        if store is None:
            store = _stores[(scheme, location)] = factory(location)
    if not create and not store.exists():
        raise NotFoundError(
            f"No store at {location} (tracking URI {uri!r}). Check the path; a store is created by the "
            "first run started in it (R.start)."
        )
    return store
