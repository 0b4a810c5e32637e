"""HTTP to an MLflow tracking server with the standard library only.

One keep-alive connection per thread; MLflow's retry policy (connection
errors, 408, 429 and 5xx are retried ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
times, waiting 0, then ``factor × 2^n`` seconds up to 120, plus jitter, or the
server's ``Retry-After``); MLflow's credential and TLS variables; and error
answers turned into litexp's errors with the server's message.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import re
import select
import shutil
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ... import config
from ...errors import (
    AuthError,
    ExpAlreadyExistError,
    InvalidInputError,
    NotFoundError,
    ServerError,
    ServerUnreachableError,
    StorageError,
)

API = "/api/2.0/mlflow/"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF = 120.0
_INVALID_CODES = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST", "INVALID_STATE"})
_CREDENTIALS_HINT = (
    "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN "
    "(bearer token) to credentials the server accepts."
)

Body = Union[None, bytes, Callable[[], IO[bytes]]]


@dataclass
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def backoff_seconds(retry: int, factor: float, jitter: float) -> float:
    """Wait before retry number ``retry`` (0 first): urllib3's schedule, as MLflow's client waits."""
    wait = 0.0 if retry == 0 else min(MAX_BACKOFF, factor * (2**retry))
    return wait + (random.random() * jitter if jitter else 0.0)


class HttpClient:
    """Requests to one server (``http://host:port[/prefix]``), retried and mapped to litexp errors."""

    def __init__(self, base_url: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        try:
            port = parsed.port
        except ValueError:
            port = -1
        if (
            parsed.scheme not in ("http", "https")
            or not parsed.hostname
            or port == -1
            or not re.fullmatch(r"[A-Za-z0-9._~:%\[\]-]+", parsed.hostname)
        ):
            raise InvalidInputError(
                f"Tracking URI {base_url!r} is not an http(s)://host[:port][/path] URL (port 1-65535)."
            )
        self.base_url = base_url.rstrip("/")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = port
        self.prefix = parsed.path.rstrip("/")
        self.settings = config.http_settings()
        self._local = threading.local()
        self._ssl: Optional[ssl.SSLContext] = None

    # connections ----------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            s = self.settings
            try:
                context = ssl.create_default_context(cafile=s.server_cert_path or None)
            except (OSError, ssl.SSLError) as exc:
                raise InvalidInputError(
                    f"MLFLOW_TRACKING_SERVER_CERT_PATH={s.server_cert_path!r} is not a readable PEM CA bundle: {exc}."
                ) from None
            if s.insecure_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if s.client_cert_path:
                try:
                    context.load_cert_chain(s.client_cert_path)
                except (OSError, ssl.SSLError) as exc:
                    raise InvalidInputError(
                        f"MLFLOW_TRACKING_CLIENT_CERT_PATH={s.client_cert_path!r} is not a readable PEM certificate "
                        f"with its key: {exc}."
                    ) from None
            self._ssl = context
        return self._ssl

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) != os.getpid():
            conn = None  # a forked child must not talk on its parent's socket
        if conn is not None and _closed_by_peer(conn):
            self._drop_connection()  # the server closed the idle keep-alive connection
            conn = None
        self._local.reused = conn is not None
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl_context())
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self._local.conn = conn
            self._local.pid = os.getpid()
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()

    def _headers(self) -> Dict[str, str]:
        """Credentials are read at each request, as MLflow's client does (a rotated token is picked up)."""
        token = os.environ.get(config.TRACKING_TOKEN.name, "")
        username = os.environ.get(config.TRACKING_USERNAME.name, "")
        password = os.environ.get(config.TRACKING_PASSWORD.name, "")
        headers = {"User-Agent": "litexp", "Accept": "application/json"}
        if token:
            try:
                token.encode("latin-1")
            except UnicodeEncodeError:
                raise InvalidInputError(
                    f"{config.TRACKING_TOKEN.name} holds characters an HTTP header cannot carry."
                ) from None
            headers["Authorization"] = f"Bearer {token}"
        elif username or password:
            pair = f"{username}:{password}".encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    # requests -------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        content_type: Optional[str] = None,
        retries: Optional[int] = None,
        timeout: Optional[float] = None,
        sink: Optional[IO[bytes]] = None,
    ) -> Response:
        """One request with retries; ``path`` starts with ``/`` (the URL's prefix is added).

        ``body`` is bytes or a callable opening a fresh file for each attempt;
        ``sink`` receives a successful answer's body instead of memory. Returns
        the last answer, whatever its status; raises ServerUnreachableError when
        no answer came.
        """
        s = self.settings
        retries = s.max_retries if retries is None else retries
        timeout = s.timeout if timeout is None else timeout
        full_path = self.prefix + path
        attempt = 0
        while True:
            try:
                payload = body() if callable(body) else body
            except OSError as exc:
                raise StorageError(f"Cannot read the file to send to {self.base_url}: {exc}.") from None
            try:
                try:
                    response = self._once(method, full_path, payload, content_type, timeout, sink)
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    if not getattr(self._local, "reused", False):
                        raise
                    self._drop_connection()  # a kept-alive connection the server had closed: once more, fresh
                    payload = body() if callable(body) else body
                    response = self._once(method, full_path, payload, content_type, timeout, sink)
            except ssl.SSLCertVerificationError as exc:
                self._drop_connection()
                raise ServerError(
                    f"The TLS certificate of the MLflow server at {self.base_url} was refused: {exc.verify_message}. "
                    "Set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle (PEM) that signed it, or "
                    "MLFLOW_TRACKING_INSECURE_TLS=true to skip the check (testing only)."
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                if attempt >= retries:
                    raise ServerUnreachableError(self._unreachable_message(method, path, exc, attempt)) from None
                wait = backoff_seconds(attempt, s.backoff_factor, s.backoff_jitter)
            else:
                if response.status not in TRANSIENT_STATUSES or attempt >= retries:
                    return response
                wait = _retry_after(response) or backoff_seconds(attempt, s.backoff_factor, s.backoff_jitter)
            time.sleep(min(wait, MAX_BACKOFF))
            attempt += 1

    def _once(
        self,
        method: str,
        path: str,
        body: Union[None, bytes, IO[bytes]],
        content_type: Optional[str],
        timeout: float,
        sink: Optional[IO[bytes]],
    ) -> Response:
        stream = None if body is None or isinstance(body, bytes) else body
        try:
            conn = self._connection(timeout)
            headers = self._headers()
            if content_type:
                headers["Content-Type"] = content_type
            if stream is not None:
                stream.seek(0, 2)
                headers["Content-Length"] = str(stream.tell())
                stream.seek(0)
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            status = answer.status
            if sink is not None and status == 200:
                if hasattr(sink, "seek"):
                    sink.seek(0)
                    sink.truncate()
                shutil.copyfileobj(answer, sink, 1 << 20)
                data = b""
            else:
                data = answer.read()
            result = Response(status, data, {k.lower(): v for k, v in answer.getheaders()})
            if answer.getheader("connection", "").lower() == "close":
                self._drop_connection()
            return result
        finally:
            if stream is not None:
                stream.close()

    def _unreachable_message(self, method: str, path: str, exc: BaseException, retries: int) -> str:
        what = "timed out" if isinstance(exc, socket.timeout) else f"{type(exc).__name__}: {exc}"
        return (
            f"Cannot reach the MLflow server at {self.base_url} ({method} {path} {what}; "
            f"{retries} retr{'y' if retries == 1 else 'ies'}). Check that the server runs and the tracking URI is "
            "right; MLFLOW_HTTP_REQUEST_TIMEOUT and MLFLOW_HTTP_REQUEST_MAX_RETRIES set how long litexp waits."
        )

    # MLflow's REST API ----------------------------------------------------------
    def call(
        self,
        endpoint: str,
        payload: Optional[Mapping[str, Any]] = None,
        method: str = "POST",
        retries: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        """``/api/2.0/mlflow/<endpoint>``: GET with a query string or POST with JSON; the answer's JSON."""
        path = API + endpoint
        if method == "GET":
            if payload:
                path += "?" + urllib.parse.urlencode(_query_items(payload), doseq=True)
            response = self.request("GET", path, retries=retries, timeout=timeout)
        else:
            body = json.dumps(payload or {}, allow_nan=False).encode("utf-8")
            response = self.request(method, path, body, "application/json", retries, timeout)
        check(response, self, f"{method} {endpoint}")
        data = response.json()
        if not data and response.body.strip() not in (b"", b"{}"):
            raise ServerError(
                f"{self.base_url} answered {method} {endpoint} with something that is not MLflow's JSON "
                f"({response.body[:80]!r}). Check that the tracking URI names an MLflow server."
            )
        return data


def field(answer: Mapping[str, Any], name: str, client: HttpClient, what: str) -> Any:
    """A field of an answer; a ServerError when the server left it out."""
    if name not in answer:
        raise ServerError(f"{client.base_url} answered {what} without {name!r}; is it an MLflow server?")
    return answer[name]


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection has something to read: the server closed it (or sent junk)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _query_items(payload: Mapping[str, Any]) -> List[Tuple[str, str]]:
    items = []
    for key, value in payload.items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if one is not None:
                items.append((key, str(one).lower() if isinstance(one, bool) else str(one)))
    return items


def _retry_after(response: Response) -> Optional[float]:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def check(response: Response, client: HttpClient, what: str) -> None:
    """Raise the litexp error of an error answer, with the server's message."""
    status = response.status
    if 200 <= status < 300:
        return
    data = response.json()
    code = str(data.get("error_code") or "")
    message = str(
        data.get("message")
        or response.body[:500].decode("utf-8", "replace").strip()
        or http.client.responses.get(status, "")
    )
    where = f"MLflow server {client.base_url} ({what})"
    if status in (401, 403) or code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
        raise AuthError(f"{where} refused the request with HTTP {status}: {message}. {_CREDENTIALS_HINT}")
    if code == "RESOURCE_ALREADY_EXISTS":
        raise ExpAlreadyExistError(f"{message} ({where})")
    if code == "RESOURCE_DOES_NOT_EXIST":
        raise NotFoundError(f"{message} ({where})")
    if status == 404:
        raise ServerError(
            f"{where}: HTTP 404 without an MLflow answer; no MLflow API at that address. Check the tracking URI "
            "(a server behind a path prefix needs the prefix in the URI)."
        )
    if code in _INVALID_CODES or (code and 400 <= status < 500):
        raise InvalidInputError(f"{message} ({where})")
    if 300 <= status < 400:
        target = response.headers.get("location", "another address")
        raise ServerError(f"{where} redirects (HTTP {status}) to {target}; use that address as the tracking URI.")
    raise ServerError(f"{where} failed with HTTP {status}{' ' + code if code else ''}: {message}")
