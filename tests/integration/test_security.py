"""Security at the gateway end to end (docs/security.md): TLS with a private CA made here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from certs import make_certs
from procs import Proc, child_env, free_port, wait_until

from flowserve import Client, Document, DocumentArray
from flowserve.errors import UnavailableError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def executor():
    port = free_port()
    proc = Proc("executor", "--uses", "toy_executors:AppendText", "--name", "suffixer",
                "--uses-with", json.dumps({"suffix": "?"}), "--host", "127.0.0.1",
                "--port", str(port))
    yield port
    assert proc.stop() == 0, proc.output


def _gateway(executor_port: int, *flags: str) -> tuple[Proc, int, int]:
    grpc_port, http_port = free_port(), free_port()
    proc = Proc("gateway", "--graph", json.dumps({"suffixer": ["gateway"]}),
                "--deployments", json.dumps({"suffixer": [f"127.0.0.1:{executor_port}"]}),
                "--protocol", "grpc", "http", "--port", str(grpc_port), str(http_port),
                "--host", "127.0.0.1", *flags)
    return proc, grpc_port, http_port


def _post(client: Client) -> list[str]:
    return [d.text for d in client.post("/", DocumentArray([Document(text="why")]))]


@pytest.fixture(scope="module")
def tls_gateway(executor, certs):
    proc, grpc_port, http_port = _gateway(executor, "--ssl-certfile", str(certs.cert),
                                          "--ssl-keyfile", str(certs.key))
    with Client(host=f"grpcs://localhost:{grpc_port}", ca_file=str(certs.ca)) as client:
        assert wait_until(lambda: client.is_flow_ready(timeout=1) and client.dry_run(), 120), \
            proc.output
    yield grpc_port, http_port
    assert proc.stop() == 0, proc.output


def test_tls_gateway_serves_grpcs_and_https_to_a_client_trusting_the_ca(tls_gateway, certs):
    grpc_port, http_port = tls_gateway
    for url in (f"grpcs://localhost:{grpc_port}", f"https://localhost:{http_port}"):
        with Client(host=url, ca_file=str(certs.ca)) as client:
            assert _post(client) == ["why?"], url


def test_the_standard_variables_make_the_ca_trusted(tls_gateway, certs):
    grpc_port, http_port = tls_gateway
    code = ("import sys; from flowserve import Client, Document, DocumentArray\n"
            "for url in sys.argv[1:]:\n"
            "    with Client(host=url) as c:\n"
            "        assert c.post('/', DocumentArray([Document(text='x')]))[0].text == 'x?'\n")
    env = child_env(GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(certs.ca), SSL_CERT_FILE=str(certs.ca))
    result = subprocess.run(
        [sys.executable, "-c", code, f"grpcs://localhost:{grpc_port}",
         f"https://localhost:{http_port}"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_plaintext_and_untrusting_clients_get_clear_errors(tls_gateway):
    grpc_port, http_port = tls_gateway
    for url, hint in ((f"grpc://127.0.0.1:{grpc_port}", "connect with grpcs://"),
                      (f"http://127.0.0.1:{http_port}", "connect with https://")):
        with Client(host=url) as client, pytest.raises(UnavailableError, match=hint):
            _post(client)
    with Client(host=f"grpcs://localhost:{grpc_port}") as client, \
            pytest.raises(UnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        _post(client)
