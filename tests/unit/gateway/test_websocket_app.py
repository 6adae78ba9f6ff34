"""The WebSocket adapter over a fake core, driven as an ASGI app (no sockets): Jina's bytes
framing, the JSON framing, in-band gateway errors, undecodable messages and /dry_run."""

from __future__ import annotations

import json
from typing import Any

from fakes import websocket_session

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.errors import OverloadedError
from flowserve.gateway.websocket_app import END_OF_INPUTS, create_websocket_app
from flowserve.proto import jina_pb2
from flowserve.wire.request import DataRequest


class Core:
    """Appends '!' to every text; raises `fail` for an endpoint of '/overload'."""

    def __init__(self, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        self.clients: list[str] = []
        self.origins: list[object] = []

    async def process(self, request: DataRequest, *, deadline: Any, client: str,
                      origin: object = None) -> DataRequest:
        self.clients.append(client)
        self.origins.append(origin)
        if request.endpoint == "/overload":
            raise OverloadedError("queue full")
        docs = request.docs
        for doc in docs:
            doc.text = (doc.text or "") + "!"
        request.docs = docs
        return request

    async def dry_run(self) -> list[str]:
        return self.problems


def converse(core: Core, path: str, subprotocols: list[str],
             messages: list[dict[str, Any]], headers: dict[str, str] | None = None,
             **options: Any) -> list[dict[str, Any]]:
    """Run one WebSocket session: connect, send `messages`, return what the app sent."""
    return websocket_session(create_websocket_app(core, prefetch=2, **options), messages,
                             path=path, subprotocols=subprotocols, headers=headers)


def request_bytes(text: str, endpoint: str = "/", request_id: str = "r") -> bytes:
    docs = DocumentArray([Document(id="d", text=text)])
    return DataRequest.new(docs, endpoint=endpoint, request_id=request_id).to_bytes()


def test_jina_bytes_framing_answers_each_request_then_closes():
    core = Core()
    sent = converse(core, "/", ["bytes"], [
        {"type": "websocket.receive", "bytes": request_bytes("a", request_id="r1")},
        {"type": "websocket.receive", "bytes": request_bytes("b", request_id="r2")},
        {"type": "websocket.receive", "bytes": END_OF_INPUTS},
    ])
    assert (sent[0]["type"], sent[0]["subprotocol"]) == ("websocket.accept", "bytes")
    answers = [DataRequest(jina_pb2.DataRequestProto.FromString(m["bytes"])) for m in sent[1:-1]]
    assert sorted((a.request_id, a.docs[0].text) for a in answers) == [("r1", "a!"), ("r2", "b!")]
    assert sent[-1]["type"] == "websocket.close" and sent[-1]["code"] == 1000
    assert core.clients == ["10.0.0.7", "10.0.0.7"]


def test_json_framing_takes_post_bodies():
    body = {"data": [{"text": "x"}], "execEndpoint": "/foo", "requestId": "j1"}
    sent = converse(Core(), "/", [], [
        {"type": "websocket.receive", "text": json.dumps(body)},
        {"type": "websocket.receive", "text": "{}"},
    ])
    assert sent[0]["subprotocol"] is None
    answer = json.loads(sent[1]["text"])
    assert answer["header"]["requestId"] == "j1" and answer["data"][0]["text"] == "x!"


def test_gateway_errors_are_answered_in_band():
    sent = converse(Core(), "/", ["bytes"], [
        {"type": "websocket.receive", "bytes": request_bytes("a", endpoint="/overload")},
        {"type": "websocket.receive", "bytes": END_OF_INPUTS},
    ])
    answer = DataRequest(jina_pb2.DataRequestProto.FromString(sent[1]["bytes"]))
    assert answer.header.status.code == jina_pb2.StatusProto.ERROR
    assert answer.header.status.exception.name == "OverloadedError"


def test_an_undecodable_message_closes_with_1003():
    sent = converse(Core(), "/", ["bytes"], [
        {"type": "websocket.receive", "bytes": b"\xff\xff\xff"},
    ])
    assert sent[-1]["type"] == "websocket.close" and sent[-1]["code"] == 1003
    assert "DataRequestProto" in sent[-1]["reason"]


def test_bad_json_messages_close_with_1003_naming_why():
    for text, reason in [("{", "message is not valid JSON"),
                         ('{"data": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
                         ('{"data": [{"text": "a", "tags": {"x": NaN}}]}', "NaN")]:
        sent = converse(Core(), "/", [], [{"type": "websocket.receive", "text": text}])
        assert sent[-1]["type"] == "websocket.close" and sent[-1]["code"] == 1003, sent
        assert reason in sent[-1]["reason"]


def test_a_socket_is_identified_as_an_http_request_is():
    """Before: only the asserted id or the address; a mesh identity and trusted proxies were
    ignored (fair queuing behind Linkerd saw every socket as the proxy's address)."""
    from flowserve.gateway.identity import TrustedProxies

    one = [{"type": "websocket.receive", "bytes": request_bytes("a")},
           {"type": "websocket.receive", "bytes": END_OF_INPUTS}]
    cases = [({}, {}, "10.0.0.7"),
             ({"X-Flowserve-Client-Id": "frontend"}, {}, "frontend"),
             ({"l5d-client-id": "web.ns.serviceaccount.identity.linkerd.cluster.local",
               "X-Flowserve-Client-Id": "frontend"}, {},
              "web.ns.serviceaccount.identity.linkerd.cluster.local"),
             ({"X-Forwarded-For": "192.0.2.9"}, {}, "10.0.0.7"),
             ({"X-Forwarded-For": "192.0.2.9"},
              {"trusted": TrustedProxies.parse(["10.0.0.0/8"])}, "192.0.2.9")]
    for headers, options, expected in cases:
        core = Core()
        converse(core, "/", ["bytes"], one, headers=headers, **options)
        assert core.clients == [expected], (headers, core.clients)


def test_dry_run_answers_one_status():
    ok = converse(Core(), "/dry_run", ["bytes"], [{"type": "websocket.receive", "bytes": b""}])
    assert jina_pb2.StatusProto.FromString(ok[1]["bytes"]).code == jina_pb2.StatusProto.SUCCESS
    bad = converse(Core(["e: unreachable"]), "/dry_run", [], [])
    status = json.loads(bad[1]["text"])
    assert status["code"] == 1 and status["description"] == "e: unreachable"


def test_each_request_tells_the_core_which_socket_it_came_by():
    from flowserve.wire.origin import HttpOrigin

    core = Core()
    converse(core, "/", ["bytes"], [
        {"type": "websocket.receive", "bytes": request_bytes("a", request_id="r1")},
        {"type": "websocket.receive", "bytes": END_OF_INPUTS},
    ])
    assert core.origins == [HttpOrigin(method="GET", route="/", path="/", scheme="ws",
                                       server_address="gw", server_port=80,
                                       client_address="10.0.0.7", client_port=5000)]
