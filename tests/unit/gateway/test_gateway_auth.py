"""Bearer tokens at the gateway (docs/security.md#tokens): loading, checking, and the HTTP
middleware in front of the real app (no sockets: httpx's ASGI transport)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fakes import websocket_session

from flowserve.errors import ConfigError
from flowserve.gateway.auth import AUTHENTICATED_CLIENT, http_token_middleware, load_tokens
from flowserve.gateway.http_app import create_app
from flowserve.wire.request import DataRequest

ALICE = "alice-0123456789abcdef"
BOB = "bob-0123456789abcdef"


class RecordingCore:
    """The part of a GatewayCore the HTTP app uses; records who each request came from."""

    def __init__(self) -> None:
        self.clients: list[tuple[str, str | None]] = []

    async def process(self, request: DataRequest, *, deadline=None, client="",
                      origin: object = None) -> DataRequest:
        self.clients.append((client, AUTHENTICATED_CLIENT.get()))
        return request


def test_tokens_from_a_file_and_a_variable(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# who may call\nalice:{ALICE}\n\n")
    table = load_tokens(str(path), "GW_TOKENS", {"GW_TOKENS": f"bob:{BOB}, carol:{'c' * 16}"})
    assert len(table) == 3
    assert table.authenticate(f"Bearer {ALICE}") == "alice"
    assert table.authenticate(f"bearer {BOB}") == "bob"
    for bad in (None, "", ALICE, f"Basic {ALICE}", f"Bearer {ALICE}x", "Bearer "):
        assert table.authenticate(bad) is None
    assert load_tokens(None, None, {}) is None


@pytest.mark.parametrize("text, message", [
    ("alice", "line 1: expected name:token"),
    ("alice:short", "line 1: the token of 'alice' is shorter than 16"),
    (f"alice:{ALICE}\nalice:{BOB}", "line 2: 'alice' or its token is repeated"),
    ("# nobody\n", "no token is defined"),
])
def test_bad_token_files_are_named_without_the_tokens(tmp_path, text, message):
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_tokens(str(path), None, {})
    assert ALICE not in str(info.value) and BOB not in str(info.value)


def test_a_missing_file_or_variable_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        load_tokens(str(tmp_path / "nope"), None, {})
    with pytest.raises(ConfigError, match="'GW_TOKENS' is unset or empty"):
        load_tokens(None, "GW_TOKENS", {})


def _post(app, headers):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            health = await client.get("/")
            reply = await client.post("/post", json={"data": [{"text": "x"}]}, headers=headers)
            return health, reply

    return asyncio.run(go())


def test_http_requires_a_token_but_not_for_the_health_check():
    core = RecordingCore()
    app = http_token_middleware(create_app(core), load_tokens(None, "T", {"T": f"alice:{ALICE}"}))
    for headers in ({}, {"Authorization": f"Bearer {BOB}"}, {"Authorization": ALICE}):
        health, reply = _post(app, headers)
        assert health.status_code == 200
        assert reply.status_code == 401
        assert reply.json() == {"detail": "Unauthorized"}  # nothing about why
        assert reply.headers["www-authenticate"] == "Bearer"
    assert core.clients == []


def test_with_tokens_the_identity_is_the_token_name_not_the_asserted_id():
    core = RecordingCore()
    app = http_token_middleware(create_app(core), load_tokens(None, "T", {"T": f"alice:{ALICE}"}))
    _, reply = _post(app, {"Authorization": f"Bearer {ALICE}",
                           "X-Flowserve-Client-Id": "mallory"})
    assert reply.status_code == 200, reply.text
    assert core.clients == [("alice", "alice")]


def _websocket(app, headers: dict[str, str]) -> list[dict]:
    """One WebSocket session through `app` with `headers`, sending one JSON request."""
    import json

    return websocket_session(app, [
        {"type": "websocket.receive", "text": json.dumps({"data": [{"text": "x"}]})},
        {"type": "websocket.receive", "text": "{}"}], headers=headers)


def test_a_websocket_handshake_needs_a_token():
    """Before: a gateway with tokens refused to start with protocol websocket at all."""
    from flowserve.gateway.websocket_app import create_websocket_app

    core = RecordingCore()
    app = http_token_middleware(create_websocket_app(core),
                                load_tokens(None, "T", {"T": f"alice:{ALICE}"}))
    for headers in ({}, {"Authorization": f"Bearer {BOB}"}):
        sent = _websocket(app, headers)
        assert sent == [{"type": "websocket.close", "code": 1008}]  # before accept: HTTP 403
    assert core.clients == []
    sent = _websocket(app, {"Authorization": f"Bearer {ALICE}",
                            "X-Flowserve-Client-Id": "mallory"})
    assert sent[0]["type"] == "websocket.accept" and sent[-1]["type"] == "websocket.close"
    assert core.clients == [("alice", "alice")]  # the token's name, not the asserted id
