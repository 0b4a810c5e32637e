"""Helpers of the REST-backend tests: real ``mlflow server`` processes (SQLite, PostgreSQL,
basic-auth) on 127.0.0.1, a throwaway PostgreSQL cluster, and child Pythons in which
``import mlflow`` fails. Everything started is stopped, whatever happens; logs go to ``tmp``.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, NoReturn, Optional, Set, Tuple

import pytest
from interop_support import SERVER_START_TIMEOUT, free_port, mlflow_env, stop_process_group, wait_for_http
from optional_support import package_paths, requires

TESTS = Path(__file__).resolve().parent
#: The admin of :func:`auth_server` (MLflow refuses passwords under 12 characters).
AUTH_ADMIN = ("admin", "litexp-admin-secret-1")
#: ``MLFLOW_FLASK_SERVER_SECRET_KEY`` of :func:`auth_server` (basic-auth refuses to start without one).
AUTH_SECRET_KEY = "litexp-test-flask-secret"
#: The role, its password and the database of :func:`postgres_database`.
PG_USER, PG_PASSWORD, PG_DATABASE = "litexp", "litexp-pg-secret", "litexp"
#: Without it each server also starts a job runner and seven huey consumers (seconds of CPU,
#: and a /dev/shm folder left behind per start).
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
BIND_RETRY_SECONDS = 30.0
LOG_TAIL = 4000


def _tail(path: Path, size: int = LOG_TAIL) -> str:
    """The last ``size`` characters of ``path`` (empty when it does not exist)."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _wait_group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until process group ``pgid`` has no live (non-zombie) member: its sockets are closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                alive = alive or (int(fields[2]) == pgid and fields[0] != "Z")
        if not alive:
            return
        time.sleep(0.05)


def _missing(message: str) -> NoReturn:
    """Skip for a missing component, or fail under CI (as ``optional_support.requires`` does)."""
    if os.environ.get("CI"):
        pytest.fail(message + "; CI installs it and must run this test", pytrace=False)
    pytest.skip(message, allow_module_level=True)


# ------------------------------------------------------------------- mlflow server
class MlflowServer:
    """One ``mlflow server`` subprocess (own process group) on a fixed port and backend."""

    #: Servers running now, so a failing test can show their logs.
    live: Set["MlflowServer"] = set()

    def __init__(
        self,
        backend: str,
        tmp: Path,
        app_name: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        port: Optional[int] = None,
    ) -> None:
        self.backend, self.tmp, self.app_name, self.env = backend, Path(tmp), app_name, dict(env or {})
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = self.tmp / "artifacts"
        self.log = self.tmp / "mlflow-server.log"
        self.starts = 0
        self.startup_seconds: Optional[float] = None
        self._proc: Optional["subprocess.Popen[bytes]"] = None

    def __repr__(self) -> str:
        return f"MlflowServer({self.url}, {self.backend!r}, app={self.app_name!r})"

    def __enter__(self) -> "MlflowServer":
        self.start()  # stops the process itself when it fails
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return None if self._proc is None else self._proc.pid

    def command(self) -> List[str]:
        """The ``mlflow server`` command line."""
        return [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend,
            "--artifacts-destination",
            str(self.artifacts),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ] + (["--app-name", self.app_name] if self.app_name else [])

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Start and wait until ``GET /health`` answers 200 (the log is appended to).

        A port still held by the previous process is retried for ``BIND_RETRY_SECONDS``.
        On failure the process is stopped and the error carries the log's tail.
        """
        requires("mlflow", "these tests start a real `mlflow server` (the mlflow test extra)")
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self.tmp.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        while True:
            offset = self.log.stat().st_size if self.log.exists() else 0
            with open(self.log, "ab") as fh:
                fh.write(f"----- start #{self.starts + 1}: {shlex.join(self.command())}\n".encode())
                fh.flush()
                self._proc = subprocess.Popen(
                    self.command(),
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=mlflow_env(**{**SERVER_ENV, **self.env}),
                    cwd=self.tmp,
                    start_new_session=True,
                )
            MlflowServer.live.add(self)
            try:
                left = max(1.0, timeout - (time.monotonic() - began))
                wait_for_http(self.url + "/health", self._proc, self.log, timeout=left)
            except BaseException as exc:
                exited = self._proc.poll() is not None
                self.stop()
                attempt = self.log.read_bytes()[offset:].decode(errors="replace").lower()
                if exited and "address already in use" in attempt and time.monotonic() < began + BIND_RETRY_SECONDS:
                    time.sleep(0.5)
                    continue
                if isinstance(exc, RuntimeError):
                    raise RuntimeError(f"{self!r} did not start: {exc}") from None
                raise
            self.starts += 1
            self.startup_seconds = time.monotonic() - began
            return

    def kill(self) -> None:
        """SIGKILL the whole process group (like ``kill -9``) and reap it."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=30)
            _wait_group_gone(self._proc.pid)
        MlflowServer.live.discard(self)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the group, SIGKILL for leftovers)."""
        if self._proc is not None:
            stop_process_group(self._proc)
            _wait_group_gone(self._proc.pid)
        MlflowServer.live.discard(self)

    def restart(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Stop if running, then start again on the same port and backend."""
        self.stop()
        self.start(timeout=timeout)

    def log_tail(self, size: int = LOG_TAIL) -> str:
        return _tail(self.log, size)


@contextlib.contextmanager
def sqlite_server(tmp: Path) -> Iterator[MlflowServer]:
    """An ``mlflow server`` on ``sqlite:///<tmp>/mlflow.db``."""
    tmp = Path(tmp).resolve()
    with MlflowServer(f"sqlite:///{tmp / 'mlflow.db'}", tmp) as server:
        yield server


@contextlib.contextmanager
def postgres_server(tmp: Path) -> Iterator[MlflowServer]:
    """An ``mlflow server`` on a fresh PostgreSQL database (see :func:`postgres_database`).

    The backend names the psycopg2 driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3.
    """
    requires("psycopg2", "MLflow's SQL store reaches PostgreSQL through psycopg2 (psycopg2-binary)")
    tmp = Path(tmp).resolve()
    with postgres_database(tmp / "postgres") as url:
        with MlflowServer(url.replace("postgresql://", "postgresql+psycopg2://", 1), tmp) as server:
            yield server


def write_auth_config(tmp: Path, default_permission: str = "READ") -> Path:
    """``<tmp>/basic_auth.ini`` for :func:`auth_server` (users in ``<tmp>/basic_auth.db``)."""
    path = Path(tmp) / "basic_auth.ini"
    path.write_text(
        f"[mlflow]\ndefault_permission = {default_permission}\n"
        f"database_uri = sqlite:///{Path(tmp).resolve() / 'basic_auth.db'}\n"
        f"admin_username = {AUTH_ADMIN[0]}\nadmin_password = {AUTH_ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
        encoding="utf-8",
    )
    return path


@contextlib.contextmanager
def auth_server(tmp: Path, default_permission: str = "READ") -> Iterator[MlflowServer]:
    """``mlflow server --app-name basic-auth`` on SQLite; the admin is :data:`AUTH_ADMIN`.

    ``default_permission``: what a user may do on experiments other users created.
    """
    requires("flask_wtf", "the basic-auth app of mlflow server needs Flask-WTF (mlflow[auth])")
    tmp = Path(tmp).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(write_auth_config(tmp, default_permission)),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": AUTH_SECRET_KEY,
    }
    with MlflowServer(f"sqlite:///{tmp / 'mlflow.db'}", tmp, app_name="basic-auth", env=env) as server:
        yield server


# -------------------------------------------------------------------- REST helpers
def rest(
    url: str,
    payload: Optional[Dict[str, Any]] = None,
    auth: Optional[Tuple[str, str]] = None,
    method: Optional[str] = None,
    timeout: float = 30.0,
) -> Tuple[int, Any]:
    """GET ``url``, or POST JSON ``payload``; return ``(status, decoded JSON or text)``, errors included."""
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode("ascii"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    text = body.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def create_user(server: MlflowServer, username: str, password: str) -> Dict[str, Any]:
    """Create a basic-auth user as :data:`AUTH_ADMIN` (``POST /api/2.0/mlflow/users/create``)."""
    payload = {"username": username, "password": password}
    status, body = rest(server.url + "/api/2.0/mlflow/users/create", payload, auth=AUTH_ADMIN)
    if status != 200:
        raise AssertionError(f"users/create {username!r}: HTTP {status}: {body!r}")
    return body["user"]


def mlflow_client(url: str) -> Any:
    """``mlflow.MlflowClient`` on ``url``, for the reading side in the pytest process."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=url)


# ---------------------------------------------------------------------- PostgreSQL
def postgres_bindir() -> Optional[Path]:
    """The folder of ``initdb``, ``pg_ctl`` and ``psql``: ``pg_config --bindir``, Debian's layout, PATH."""
    candidates: List[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30)
        candidates.append(done.stdout.strip())
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=lambda p: int("0" + "".join(filter(str.isdigit, p))), reverse=True)
    candidates.append(os.path.dirname(shutil.which("initdb") or ""))
    for folder in filter(None, candidates):
        if all(os.access(os.path.join(folder, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "psql")):
            return Path(folder)
    return None


def _as_owner(command: List[str]) -> List[str]:
    """``command`` as the ``postgres`` user when running as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]


def _run(command: List[str], what: str, log: Path) -> "subprocess.CompletedProcess[str]":
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}\n{_tail(log)}"
        )
    return done


def _stop_cluster(bindir: Path, data: Path) -> None:
    """``pg_ctl stop -m immediate``; SIGKILL a postmaster that survived it."""
    if not (data / "postmaster.pid").exists():
        return
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().split()[0])
        if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def postgres_database(tmp: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields
    ``postgresql://PG_USER:PG_PASSWORD@127.0.0.1:PORT/PG_DATABASE``.

    The cluster lives in a short folder of the system temp dir (reachable by the postgres
    user, short socket paths), is stopped with ``-m immediate`` and removed; its log is
    copied to ``<tmp>/postgres.log``. Without PostgreSQL: skip, or fail under CI.
    """
    bindir = postgres_bindir()
    if bindir is None:
        _missing("PostgreSQL (initdb, pg_ctl, psql) is not installed: these tests run mlflow server on it")
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    cluster = Path(tempfile.mkdtemp(prefix="litexp-pg-"))
    data, sock, log = cluster / "data", cluster / "sock", cluster / "postgres.log"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (cluster, sock):
            shutil.chown(path, "postgres", "postgres")
    try:
        _run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "-N",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ]
            ),
            "initdb",
            log,
        )
        for attempt in range(5):
            port = free_port()
            options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
            start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"]
            try:
                _run(_as_owner(start), "pg_ctl start", log)
                break
            except RuntimeError:
                if attempt == 4 or "already in use" not in _tail(log):
                    raise
        _run(
            [
                str(bindir / "psql"),
                "-h",
                str(sock),
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'",
                "-c",
                f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER}",
            ],
            "creating the database",
            log,
        )
        yield f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        _stop_cluster(bindir, data)
        with contextlib.suppress(OSError):
            shutil.copyfile(log, tmp / "postgres.log")
        shutil.rmtree(cluster, ignore_errors=True)


# ------------------------------------------------------------- Python without MLflow
_HIDER = '''"""Imported by sitecustomize and by the script: MLflow cannot be imported here."""
import json, os, sys

BLOCKED = ("mlflow", "mlflow_skinny")


class NoMlflowFinder:  # backstop for sys.modules[name] = None
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)


for _name in [m for m in sys.modules if m.split(".")[0] in BLOCKED] + list(BLOCKED):
    sys.modules[_name] = None
if not any(type(f).__name__ == "NoMlflowFinder" for f in sys.meta_path):
    sys.meta_path.insert(0, NoMlflowFinder())


def report(obj):
    """Hand ``obj`` (JSON-serializable) back to the test; the last call wins."""
    path = os.environ["LITEXP_TEST_REPORT"]
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(obj, fh)
    os.replace(path + ".tmp", path)
'''


class MlflowlessProcess(subprocess.Popen):  # type: ignore[type-arg]
    """A child Python without MLflow, leader of its own process group; output in :attr:`output`."""

    workdir, output, report_path = Path(), Path(), Path()

    def report(self) -> Any:
        """What the code passed to ``report`` last (None when it never called it)."""
        return json.loads(self.report_path.read_text(encoding="utf-8")) if self.report_path.exists() else None

    def output_tail(self, size: int = LOG_TAIL) -> str:
        return _tail(self.output, size)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the child's whole process group and reap the child."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=30)
        _wait_group_gone(self.pid)


def start_without_mlflow(
    code: str, env: Optional[Mapping[str, Optional[str]]] = None, cwd: Optional[Path] = None, tmp: Optional[Path] = None
) -> MlflowlessProcess:
    """Start ``code`` in a child ``sys.executable`` where ``import mlflow`` (``mlflow.*``,
    ``mlflow_skinny``) fails, also in Pythons it starts; ``tests/`` and the repo import.

    ``code`` (dedented) may call ``report(obj)``; its line N is line N+1 in tracebacks.
    ``env`` adds variables (None removes one). Files go to ``tmp`` (default: a temp folder
    removed at exit); stdout and stderr go to ``output``.
    """
    workdir = Path(tmp) if tmp is not None else Path(tempfile.mkdtemp(prefix="litexp-nomlflow-"))
    if tmp is None:
        atexit.register(shutil.rmtree, workdir, True)
    hook = workdir / "hook"
    hook.mkdir(parents=True, exist_ok=True)
    (hook / "litexp_no_mlflow.py").write_text(_HIDER, encoding="utf-8")
    (hook / "sitecustomize.py").write_text("import litexp_no_mlflow  # noqa: F401\n", encoding="utf-8")
    script = workdir / "main.py"
    script.write_text("from litexp_no_mlflow import report  # noqa\n" + textwrap.dedent(code), encoding="utf-8")
    child_env = mlflow_env()
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    paths = (
        [str(hook), str(TESTS)] + package_paths() + [p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    child_env.update(PYTHONPATH=os.pathsep.join(paths), LITEXP_TEST_REPORT=str(workdir / "report.json"))
    (workdir / "report.json").unlink(missing_ok=True)
    with open(workdir / "output.log", "wb") as fh:
        proc = MlflowlessProcess(
            [sys.executable, str(script)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
        )
    proc.workdir, proc.output, proc.report_path = workdir, workdir / "output.log", workdir / "report.json"
    return proc


def run_without_mlflow(
    code: str, env: Optional[Mapping[str, Optional[str]]] = None, timeout: float = 120, cwd: Optional[Path] = None
) -> Any:
    """Run ``code`` as :func:`start_without_mlflow` does; return what it passed to ``report``.

    A non-zero exit or a timeout raises AssertionError with the output's tail; whatever the
    code started in its process group is killed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="litexp-nomlflow-") as workdir:
        proc = start_without_mlflow(code, env, cwd=cwd, tmp=Path(workdir))
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the code without MLflow ran over {timeout:.0f}s:\n{proc.output_tail()}") from None
        finally:
            proc.kill_group()
        if proc.returncode != 0:
            raise AssertionError(f"the code without MLflow exited with {proc.returncode}:\n{proc.output_tail()}")
        return proc.report()
