"""Security at the gateway end to end (docs/security.md): TLS with a private CA made here,
bearer tokens, limits (an oversized message, a connection flood)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import grpc
import httpx
import pytest
from certs import make_certs
from procs import Proc, child_env, free_port, wait_until

from flowserve import Client, Document, DocumentArray
from flowserve.errors import BadRequestError, RequestError, UnavailableError
from flowserve.gateway.auth import AUTHENTICATED_CLIENT, GrpcTokenInterceptor, load_tokens
from flowserve.gateway.grpc_service import GatewayServicer, add_gateway_services
from flowserve.proto import jina_pb2, jina_pb2_grpc
from flowserve.transport.grpc_common import Health, new_server

ALICE = "alice-0123456789abcdef"

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


@pytest.fixture(scope="module")
def token_gateway(executor, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"alice:{ALICE}\n")
    proc, grpc_port, http_port = _gateway(executor, "--tokens-file", str(tokens))
    with Client(host=f"grpc://127.0.0.1:{grpc_port}", token=ALICE) as client:
        assert wait_until(lambda: client.is_flow_ready(timeout=1) and client.dry_run(), 120), \
            proc.output
    yield grpc_port, http_port
    assert proc.stop() == 0, proc.output


def test_tokens_admit_known_clients_on_both_protocols(token_gateway):
    grpc_port, http_port = token_gateway
    for url in (f"grpc://127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}"):
        with Client(host=url, token=ALICE) as client:
            assert _post(client) == ["why?"], url
        for token in (None, "mallory-0123456789abcdef"):
            with Client(host=url, token=token) as client, \
                    pytest.raises(RequestError, match="UNAUTHENTICATED|401"):
                _post(client)


def test_unauthenticated_gets_no_detail_and_health_stays_open(token_gateway):
    grpc_port, http_port = token_gateway
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
        with pytest.raises(grpc.RpcError) as info:
            call(jina_pb2.DataRequestProto(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert not info.value.details()
    reply = httpx.post(f"http://127.0.0.1:{http_port}/post", json={"data": []}, timeout=10)
    assert reply.status_code == 401 and reply.json() == {"detail": "Unauthorized"}
    assert httpx.get(f"http://127.0.0.1:{http_port}/", timeout=10).status_code == 200
    with Client(host=f"grpc://127.0.0.1:{grpc_port}") as client:  # the gRPC health check
        assert client.is_flow_ready(timeout=5)


class RecordingCore:
    def __init__(self) -> None:
        self.clients: list[tuple[str, str | None]] = []

    async def process(self, request, *, deadline=None, client="", origin=None):
        self.clients.append((client, AUTHENTICATED_CLIENT.get()))
        return request


def test_grpc_identity_is_the_token_name_not_the_asserted_client_id():
    async def scenario() -> list[tuple[str, str | None]]:
        core = RecordingCore()
        tokens = load_tokens(None, "T", {"T": f"alice:{ALICE}"})
        server, port = new_server([], Health([]), bind="127.0.0.1:0",
                                  interceptors=[GrpcTokenInterceptor(tokens)])
        add_gateway_services(GatewayServicer(core), server)  # type: ignore[arg-type]
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                metadata = (("authorization", f"Bearer {ALICE}"),
                            ("flowserve-client-id", "mallory"))
                unary = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
                await unary(jina_pb2.DataRequestProto(), metadata=metadata, timeout=10)
                stream = jina_pb2_grpc.JinaRPCStub(channel).Call(metadata=metadata, timeout=10)
                await stream.write(jina_pb2.DataRequestProto())
                await stream.done_writing()
                assert [r async for r in stream]
        finally:
            await server.stop(0)
        return core.clients

    assert asyncio.run(scenario()) == [("alice", "alice"), ("alice", "alice")]


@pytest.fixture(scope="module")
def limited_gateway(executor):
    proc, grpc_port, http_port = _gateway(
        executor, "--max-message-bytes", str(1 << 20), "--max-body-bytes", str(1 << 20),
        "--max-connections", "20", "--header-timeout", "1")
    with Client(host=f"grpc://127.0.0.1:{grpc_port}") as client:
        assert wait_until(lambda: client.is_flow_ready(timeout=1) and client.dry_run(), 120), \
            proc.output
    yield grpc_port, http_port, proc
    assert proc.stop() == 0, proc.output


def test_an_oversized_message_is_refused_naming_the_limit(limited_gateway):
    import numpy as np

    grpc_port, http_port, _ = limited_gateway
    big = DocumentArray([Document(text="x", embedding=np.zeros(400_000, dtype=np.float32))])
    with Client(host=f"grpc://127.0.0.1:{grpc_port}") as client:
        with pytest.raises(BadRequestError, match="max_message_bytes"):
            client.post("/", big)
        assert _post(client) == ["why?"]  # and the gateway serves the next request
    reply = httpx.post(f"http://127.0.0.1:{http_port}/post", content=b"x" * (2 << 20),
                       headers={"content-type": "application/json"}, timeout=30)
    assert reply.status_code == 413
    assert "max_body_bytes (1048576 bytes)" in reply.json()["detail"]
    with Client(host=f"http://127.0.0.1:{http_port}") as client:
        assert _post(client) == ["why?"]


def test_a_connection_flood_leaves_the_gateway_serving(limited_gateway):
    grpc_port, http_port, proc = limited_gateway
    flood = [socket.create_connection(("127.0.0.1", http_port)) for _ in range(200)]
    try:
        with Client(host=f"grpc://127.0.0.1:{grpc_port}") as client:
            assert _post(client) == ["why?"]  # gRPC is untouched
        # the idle connections are closed after header_timeout: HTTP serves again
        def http_serves() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{http_port}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(http_serves, 30)
    finally:
        for sock in flood:
            sock.close()
    # refusals are logged, but not once per connection
    assert 1 <= proc.output.count("over max_connections") <= 5, proc.output


def test_executor_tls_without_a_mesh(certs):
    from procs import running

    from flowserve import Flow

    flow = Flow(executor_ssl_certfile=str(certs.cert), executor_ssl_keyfile=str(certs.key),
                executor_ssl_cafile=str(certs.ca)).add(
        name="suffixer", uses="toy_executors:AppendText", uses_with={"suffix": "!"})
    with running(flow):
        with Client(host=flow.addresses.gateway_url("grpc")) as client:
            assert _post(client) == ["why!"]
        (address,) = flow.addresses.executors["suffixer"]
        with grpc.insecure_channel(address) as channel:  # plaintext is refused
            call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel).process_single_data
            with pytest.raises(grpc.RpcError) as info:
                call(jina_pb2.DataRequestProto(), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def _handshake(port: int, headers: str = "") -> str:
    """The status line a WebSocket handshake to 127.0.0.1:`port` gets."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      f"Sec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n", 1)[0].decode()


def test_a_websocket_gateway_with_tokens_starts_and_checks_the_handshake(executor, tmp_path):
    """Before: protocol websocket with tokens_file/tokens_env refused to start."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice:{ALICE}\n")
    grpc_port, ws_port = free_port(), free_port()
    proc = Proc("gateway", "--graph", json.dumps({"suffixer": ["gateway"]}),
                "--deployments", json.dumps({"suffixer": [f"127.0.0.1:{executor}"]}),
                "--protocol", "grpc", "websocket", "--port", str(grpc_port), str(ws_port),
                "--host", "127.0.0.1", "--tokens-file", str(tokens))
    try:
        with Client(host=f"grpc://127.0.0.1:{grpc_port}", token=ALICE) as client:
            assert wait_until(lambda: client.is_flow_ready(timeout=1), 120), proc.output
        assert _handshake(ws_port).startswith("HTTP/1.1 403"), proc.output
        assert _handshake(ws_port, "Authorization: Bearer wrong-0123456789abcdef\r\n"
                          ).startswith("HTTP/1.1 403")
        assert _handshake(ws_port, f"Authorization: Bearer {ALICE}\r\n").startswith(
            "HTTP/1.1 101")
    finally:
        assert proc.stop() == 0, proc.output
