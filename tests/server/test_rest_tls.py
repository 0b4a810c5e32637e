"""TLS as MLflow's client reads it: an ``mlflow server`` behind uvicorn's TLS, with a private CA
and client certificates required. The litexp side runs where mlflow cannot be imported."""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import server_support
from server_support import MlflowServer, run_without_mlflow


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> Dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (PEM with its key)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=litexp test CA",
        cwd=folder,
    )
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=folder,
        )
        (folder / f"{name}.ext").write_text(extra + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            cwd=folder,
        )
    (folder / "client-bundle.pem").write_text((folder / "client.pem").read_text() + (folder / "client.key").read_text())
    return {
        "ca": folder / "ca.pem",
        "server_cert": folder / "server.pem",
        "server_key": folder / "server.key",
        "client": folder / "client-bundle.pem",
    }


class TlsServer(MlflowServer):
    """``mlflow server`` serving https, requiring a client certificate signed by the CA."""

    def __init__(self, tmp: Path, certs: Dict[str, Path]) -> None:
        super().__init__(f"sqlite:///{tmp / 'mlflow.db'}", tmp)
        self.certs = certs
        self.url = f"https://127.0.0.1:{self.port}"

    def command(self) -> List[str]:
        c = self.certs
        opts = (
            f"--ssl-keyfile {c['server_key']} --ssl-certfile {c['server_cert']} "
            f"--ssl-ca-certs {c['ca']} --ssl-cert-reqs 2"
        )
        return super().command() + ["--uvicorn-opts", opts]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    tmp = tmp_path_factory.mktemp("tls-server").resolve()
    certs = make_certificates(tmp / "certs")
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    context.load_cert_chain(str(certs["client"]))

    def wait_for_https(url: str, proc: Any, log: Path, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no answer from {url}:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)

    patch = pytest.MonkeyPatch()
    patch.setattr(server_support, "wait_for_http", wait_for_https)
    server = TlsServer(tmp, certs)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        patch.undo()


CODE = """
from litexp import R, LitexpError
try:
    with R.start(experiment_name="tls", uri=URI):
        R.log_metrics(step=0, ic=0.25)
        R.save_objects(pred=[1, 2])
        run_id = R.get_recorder().id
    R.set_uri(URI)
    rec = R.get_recorder(recorder_id=run_id, experiment_name="tls")
    report({"metrics": rec.list_metrics(), "pred": rec.load_object("pred")})
except LitexpError as exc:
    report({"error": type(exc).__name__, "message": str(exc)})
"""


def _run(server: TlsServer, tmp: Path, **env: str) -> Any:
    settings = {
        "LITEXP_SPOOL_DIR": str(tmp / "spool"),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "SSL_CERT_FILE": None,
        "SSL_CERT_DIR": None,
        **env,
    }
    return run_without_mlflow(f"URI = {server.url!r}\n" + CODE, settings)


def test_the_servers_ca_and_a_client_certificate_are_used(tls_server: TlsServer, tmp_path: Path) -> None:
    ok = _run(
        tls_server,
        tmp_path,
        MLFLOW_TRACKING_SERVER_CERT_PATH=str(tls_server.certs["ca"]),
        MLFLOW_TRACKING_CLIENT_CERT_PATH=str(tls_server.certs["client"]),
    )
    assert ok == {"metrics": {"ic": 0.25}, "pred": [1, 2]}


def test_insecure_tls_skips_the_certificate_check(tls_server: TlsServer, tmp_path: Path) -> None:
    ok = _run(
        tls_server,
        tmp_path,
        MLFLOW_TRACKING_INSECURE_TLS="true",
        MLFLOW_TRACKING_CLIENT_CERT_PATH=str(tls_server.certs["client"]),
    )
    assert ok == {"metrics": {"ic": 0.25}, "pred": [1, 2]}


def test_an_unknown_certificate_is_refused_naming_the_settings(tls_server: TlsServer, tmp_path: Path) -> None:
    refused = _run(tls_server, tmp_path, MLFLOW_TRACKING_CLIENT_CERT_PATH=str(tls_server.certs["client"]))
    assert refused["error"] == "ServerError"
    assert (
        "MLFLOW_TRACKING_SERVER_CERT_PATH" in refused["message"]
        and "MLFLOW_TRACKING_INSECURE_TLS" in refused["message"]
    )
    assert tls_server.url in refused["message"]


def test_no_client_certificate_and_a_missing_ca_file_fail_clearly(tls_server: TlsServer, tmp_path: Path) -> None:
    no_client = _run(tls_server, tmp_path, MLFLOW_TRACKING_SERVER_CERT_PATH=str(tls_server.certs["ca"]))
    assert "error" in no_client and tls_server.url in no_client["message"]
    missing = _run(tls_server, tmp_path, MLFLOW_TRACKING_SERVER_CERT_PATH=str(tmp_path / "nothing.pem"))
    assert missing["error"] == "InvalidInputError" and "MLFLOW_TRACKING_SERVER_CERT_PATH" in missing["message"]
