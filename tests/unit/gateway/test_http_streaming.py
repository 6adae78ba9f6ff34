"""Streaming endpoints over HTTP (server-sent events) through the app and the client's HTTP
transport in process: the events, the three request shapes, errors before and after the
first document, and the event framing Jina's HTTP client reads (no sockets)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from test_gateway_streaming import make_core
from toy_executors import Tokens

from flowserve import AsyncClient, Document
from flowserve.errors import BadRequestError, ExecutorError
from flowserve.gateway.http_app import create_app
from flowserve.gateway.http_streaming import stream_request_from
from flowserve.wire.sse import encode_event, read_events


def app():
    return create_app(make_core(["tok"], {"tok": Tokens()}))


def get(path: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            return await http.request("GET", path, **kwargs)

    return asyncio.run(go())


def events(response: httpx.Response) -> list[tuple[str, str]]:
    async def lines():
        for line in response.text.splitlines():
            yield line

    async def go():
        return [(e.name, e.data) async for e in read_events(lines())]

    return asyncio.run(go())


def test_a_stream_is_update_events_then_end():
    reply = get("/generate", json={"text": "a b"})  # Jina's client: the document as the body
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    got = events(reply)
    assert [name for name, _ in got] == ["update", "update", "end"]
    assert [json.loads(data)["text"] for _, data in got[:2]] == ["a", "b"]


def test_query_parameters_and_the_post_shaped_body_give_the_document():
    assert [json.loads(d)["text"] for n, d in events(get("/generate?text=x+y")) if
            n == "update"] == ["x", "y"]
    message = stream_request_from("generate", {"data": [{"text": "q"}],
                                               "parameters": {"pause": 0}, "timeout": 500}, {})
    assert message.header.exec_endpoint == "/generate"
    assert message.document.text == "q" and message.header.timeout == 500
    with pytest.raises(BadRequestError, match="exactly one document"):
        stream_request_from("g", {"data": [{"text": "a"}, {"text": "b"}]}, {})


def test_errors_before_the_first_doc_are_status_codes_after_it_an_error_event():
    unknown = get("/nope", json={"text": "a"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "BadRequestError"
    bad_doc = get("/generate", json={"txet": "a"})
    assert bad_doc.status_code == 400 and "unknown Document field 'txet'" in bad_doc.text
    mid = events(get("/generate", json={"text": "a boom"}))
    assert [name for name, _ in mid] == ["update", "error"]
    assert json.loads(mid[1][1])["error"] == "ValueError"


def test_the_client_streams_over_http_and_raises_after_the_docs():
    async def go():
        client = AsyncClient("http://gw:80", http_transport=httpx.ASGITransport(app=app()))
        got = [d.text async for d in client.stream_doc("/generate", Document(text="a b c"))]
        partial: list[str] = []
        with pytest.raises(ExecutorError, match="boom after 1 words"):
            async for d in client.stream_doc("/generate", Document(text="a boom")):
                partial.append(d.text)
        with pytest.raises(BadRequestError, match="not a streaming endpoint"):
            [d async for d in client.stream_doc("/plain", Document(text="a"))]
        await client.close()
        return got, partial

    assert asyncio.run(go()) == (["a", "b", "c"], ["a"])


def test_events_are_framed_as_jinas_http_client_reads_them():
    # jina/clients/base/helper.py: chunk.split(b'event: '), then event[14:] is the JSON
    wire = encode_event("update", json.dumps({"text": "a"})) + encode_event("end")
    parts = wire.split(b"event: ")[1:]
    assert parts[0].startswith(b"update")
    assert json.loads(parts[0][14:].decode()) == {"text": "a"}
    assert parts[1].startswith(b"end")
