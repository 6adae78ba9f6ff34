"""The HTTP adapter over a fake core: the /post body (flowserve's and Jina's), its OpenAPI
schema, and /docs served from local assets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from flowserve.gateway.http_app import create_app
from flowserve.wire.request import DataRequest


class EchoCore:
    """Answers every request with itself, and keeps it."""

    def __init__(self) -> None:
        self.seen: list[DataRequest] = []
        self.origins: list[object] = []

    def info(self) -> dict[str, Any]:
        return {"role": "gateway"}

    async def process(self, request: DataRequest, *, deadline: Any, client: str,
                      origin: object = None) -> DataRequest:
        self.seen.append(request)
        self.origins.append(origin)
        return request


def call(core: EchoCore, method: str, path: str, *, cors: bool = False,
         **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        app = create_app(core, cors=cors)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            return await http.request(method, path, **kwargs)

    return asyncio.run(go())


# what jina 3.34's HTTP client posts (Request.to_dict() plus two top-level copies)
JINA_BODY = {
    "header": {"request_id": "r1", "exec_endpoint": "/x", "target_executor": "e.*"},
    "parameters": {"p": 1.0},
    "data": [{"id": "d1", "parent_id": None, "granularity": None, "blob": None, "tensor": None,
              "mime_type": None, "text": "a", "weight": None, "uri": None, "tags": {"k": 1.0},
              "embedding": [1.0, 2.0], "scores": None, "chunks": None, "matches": None}],
    "exec_endpoint": "/x",
    "target_executor": "e.*",
}


def test_jina_client_body_is_accepted_and_header_fields_are_used():
    core = EchoCore()
    reply = call(core, "POST", "/post", json=JINA_BODY)
    assert reply.status_code == 200, reply.text
    request = core.seen[0]
    assert (request.request_id, request.endpoint, request.target_executor) == ("r1", "/x", "e.*")
    assert request.parameters == {"p": 1.0}
    assert request.docs[0].text == "a" and list(request.docs[0].embedding) == [1.0, 2.0]
    body = reply.json()
    assert body["header"]["requestId"] == "r1" and body["data"][0]["tags"] == {"k": 1.0}


def test_camel_case_keys_and_an_empty_body():
    core = EchoCore()
    camel = {"execEndpoint": "/y", "targetExecutor": "f", "requestId": "r2",
             "data": {"docs": [{"text": "b"}]}}
    assert call(core, "POST", "/post", json=camel).status_code == 200
    assert call(core, "POST", "/post").status_code == 200
    assert (core.seen[0].endpoint, core.seen[0].target_executor) == ("/y", "f")
    assert len(core.seen[1].docs) == 0


def test_bad_bodies_are_400_naming_the_key():
    for body, message in [
        ({"dataa": []}, "unknown key 'dataa'"),
        ({"execEndpoint": 3}, "execEndpoint must be a string, got a number"),
        ({"data": [{"txt": "x"}]}, "txt"),
        ({"timeout": -1}, "timeout"),
    ]:
        reply = call(EchoCore(), "POST", "/post", json=body)
        assert reply.status_code == 400 and message in reply.json()["detail"], reply.text
    reply = call(EchoCore(), "POST", "/post", content=b"{",
                 headers={"content-type": "application/json"})
    assert reply.status_code == 400 and "not valid JSON" in reply.json()["detail"]


def test_bad_json_is_400_naming_what_was_wrong():
    for raw, message in [
        (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (b'{"data": [{"text": "a", "tags": {"x": NaN}}]}', "NaN is not a JSON number"),
        (b'{"data": [{"text": "\\ud800"}]}', "not valid Unicode"),
    ]:
        core = EchoCore()
        reply = call(core, "POST", "/post", content=raw,
                     headers={"content-type": "application/json"})
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"] == "BadRequestError"
        assert message in reply.json()["detail"], reply.text


def test_openapi_describes_the_post_body_and_response():
    spec = call(EchoCore(), "GET", "/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"data", "parameters", "execEndpoint", "targetExecutor", "requestId"} <= set(
        schemas["PostRequest"]["properties"])
    post = spec["paths"]["/post"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PostRequest"}
    assert "PostResponse" in str(post["responses"]["200"])
    # every schema referred to is in the document
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(spec)))
    assert refs <= set(schemas), refs - set(schemas)


def test_openapi_lists_the_errors_post_really_answers():
    """/post reads its own body: FastAPI's 422 never happens; its error bodies are listed."""
    post = call(EchoCore(), "GET", "/openapi.json").json()["paths"]["/post"]["post"]
    codes = set(post["responses"])
    assert "422" not in codes and {"400", "413", "429", "500", "503", "504"} <= codes
    assert "PostError" in str(post["responses"]["400"])
    reply = call(EchoCore(), "POST", "/post", json={"execEndpoint": 3})
    assert (reply.status_code, set(reply.json())) == (400, {"error", "detail"})


def test_the_documented_body_is_the_parsed_one():
    """The schema documents what `parse_post_body` accepts: each key, in both spellings."""
    schema = call(EchoCore(), "GET", "/openapi.json").json()["components"]["schemas"]
    assert schema["PostRequest"]["additionalProperties"] is False
    example = schema["PostRequest"]["examples"][0]
    core = EchoCore()
    assert call(core, "POST", "/post", json=example).status_code == 200
    assert core.seen[0].endpoint == example["execEndpoint"]
    values = {"data": [], "parameters": {}, "execEndpoint": "/x", "targetExecutor": "x",
              "requestId": "r", "timeout": 5, "header": {}}
    assert set(schema["PostRequest"]["properties"]) == set(values)
    for key, value in values.items():
        assert call(EchoCore(), "POST", "/post", json={key: value}).status_code == 200, key


def test_docs_page_references_only_assets_the_gateway_serves():
    core = EchoCore()
    html = call(core, "GET", "/docs").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert refs and all(ref.startswith("/") for ref in refs), refs
    for ref in refs:
        assert call(core, "GET", ref).status_code == 200, ref


def test_each_post_tells_the_core_where_it_came_from():
    from flowserve.wire.origin import HttpOrigin

    core = EchoCore()
    assert call(core, "POST", "/post", json={"data": [{"text": "a"}]},
                headers={"User-Agent": "ua/1"}).status_code == 200
    (origin,) = core.origins
    assert origin == HttpOrigin(method="POST", route="/post", path="/post", scheme="http",
                                server_address="gw", server_port=None,
                                client_address="127.0.0.1", client_port=123, user_agent="ua/1")


def test_post_is_answered_before_fastapi_and_its_route_answers_the_same():
    """`POST /post` skips FastAPI (`http_post`); the FastAPI route kept for OpenAPI gives the
    same answer, errors included."""
    from fastapi.routing import APIRoute

    from flowserve.gateway.http_post import PostFirst

    app = create_app(EchoCore())
    assert isinstance(app, PostFirst)
    route = next(r for r in app.app.routes  # type: ignore[attr-defined]
                 if isinstance(r, APIRoute) and r.path == "/post")

    async def both(body: bytes) -> list[httpx.Response]:
        answers = []
        for target in (app, route.app):
            transport = httpx.ASGITransport(app=target)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                answers.append(await http.post("/post", content=body, headers={
                    "content-type": "application/json", "X-Timeout": "bogus"}
                    if b"bogus" in body else {"content-type": "application/json"}))
        return answers

    for body in (b'{"requestId": "r", "data": [{"id": "d", "text": "a"}]}', b"{", b'{"bogus": 1}'):
        fast, routed = asyncio.run(both(body))
        assert fast.status_code == routed.status_code
        assert fast.json() == routed.json()
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"


def test_cors_covers_post_too():
    origin = {"Origin": "http://ui.example"}
    posted = call(EchoCore(), "POST", "/post", cors=True, json={"data": []}, headers=origin)
    assert posted.status_code == 200
    assert posted.headers["access-control-allow-origin"] in ("*", "http://ui.example")
    preflight = call(EchoCore(), "OPTIONS", "/post", cors=True, headers={
        **origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and "POST" in preflight.headers[
        "access-control-allow-methods"]
    plain = call(EchoCore(), "POST", "/post", json={"data": []}, headers=origin)
    assert "access-control-allow-origin" not in plain.headers


def test_other_methods_and_paths_still_reach_fastapi():
    assert call(EchoCore(), "PUT", "/post").status_code == 405
    assert call(EchoCore(), "GET", "/").json() == {}
    assert call(EchoCore(), "GET", "/status").json()["jina"] == {"role": "gateway"}
