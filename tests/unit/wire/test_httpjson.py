"""The HTTP protocol's JSON shapes: request bodies and responses, both directions."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowserve.documents.array import DocumentArray
from flowserve.documents.document import Document
from flowserve.errors import BadRequestError
from flowserve.wire.httpjson import (
    parse_post_body,
    post_body_from_request,
    request_from_post_body,
    response_from_json,
    response_to_json,
)
from flowserve.wire.request import ERROR, DataRequest


def _docs() -> DocumentArray:
    return DocumentArray(
        [
            Document(id="a", text="hello", tags={"k": 1, "nested": {"x": [1, 2]}}),
            Document(id="b", embedding=np.array([0.5, 1.5])),
        ]
    )


def _through_json(value: Any) -> Any:
    return json.loads(json.dumps(value))  # what actually travels


def test_request_round_trip() -> None:
    req = DataRequest.new(
        _docs(),
        endpoint="/foo",
        parameters={"top_k": 3, "name": "x"},
        target_executor="enc.*",
        request_id="rid-1",
        timeout_ms=2500,
    )
    body = _through_json(post_body_from_request(req))
    assert body["execEndpoint"] == "/foo"
    assert body["targetExecutor"] == "enc.*"
    assert body["requestId"] == "rid-1"
    assert body["parameters"] == {"top_k": 3, "name": "x"}
    assert body["timeout"] == 2500
    assert [d["id"] for d in body["data"]] == ["a", "b"]

    back = request_from_post_body(body)
    assert back.endpoint == "/foo"
    assert back.target_executor == "enc.*"
    assert back.request_id == "rid-1"
    assert back.parameters == {"top_k": 3, "name": "x"}
    assert back.header.timeout == 2500
    assert back.docs == req.docs


def test_minimal_request_body() -> None:
    req = DataRequest.new(endpoint="/")
    body = post_body_from_request(req)
    assert body["data"] == [] and "parameters" not in body and "targetExecutor" not in body
    back = request_from_post_body({})
    assert len(back.docs) == 0 and back.endpoint is None and back.request_id


def test_snake_case_and_docs_object_accepted() -> None:
    body = {
        "data": {"docs": [{"text": "x"}]},
        "exec_endpoint": "/bar",
        "target_executor": "e1",
        "request_id": "r",
        "parameters": {},
    }
    req = request_from_post_body(body)
    assert (req.endpoint, req.target_executor, req.request_id) == ("/bar", "e1", "r")
    assert [d.text for d in req.docs] == ["x"]


def test_jina_header_fills_what_the_top_level_does_not_give() -> None:
    body = {
        "header": {"request_id": "r", "exec_endpoint": "/x", "targetExecutor": "e", "timeout": 9},
        "exec_endpoint": "/top",
        "data": [{"id": "a", "text": "t", "blob": None, "chunks": None, "scores": None}],
    }
    req = request_from_post_body(body)
    assert (req.endpoint, req.target_executor, req.request_id) == ("/top", "e", "r")
    assert req.header.timeout == 9 and req.docs[0].text == "t"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"header": []}, "header must be a JSON object"),
        ({"dataa": []}, "unknown key 'dataa'"),
        ({"execEndpoint": "/a", "exec_endpoint": "/b"}, "'exec_endpoint' and 'execEndpoint'"),
        ({"data": [{"text": "ok"}, {"txt": "bad"}]}, r"data\[1\].*'txt'"),
        ({"data": [{"text": "ok"}, "nope"]}, r"data\[1\]"),
        ({"data": {"docs": [{"text": 3}]}}, r"data\.docs\[0\]"),
        ({"data": {"documents": []}}, "unknown key 'documents'"),
        ({"data": "text"}, "data: expected a list"),
        ({"parameters": [1]}, "parameters must be a JSON object"),
        ({"execEndpoint": 3}, "execEndpoint must be a string"),
        ({"target_executor": ["x"]}, "target_executor must be a string"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "1s"}, "timeout"),
    ],
)
def test_bad_request_bodies_name_the_problem(body: Any, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        request_from_post_body(body)


def test_a_raw_body_is_parsed_once_into_a_request() -> None:
    req = parse_post_body(b'{"data": [{"text": "a", "tags": {"x": 1.5}}], "execEndpoint": "/e"}')
    assert (req.endpoint, req.docs[0].text, req.docs[0].tags) == ("/e", "a", {"x": 1.5})
    assert len(parse_post_body(b"").docs) == 0  # no body: an empty request, as ``{}``


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "request body is not valid JSON: Expecting property name"),
        (b'{"data": [{"text": "a", "tags": {"x": NaN}}]}', "NaN is not a JSON number"),
        (b'{"data": [{"text": "a", "tags": {"x": -Infinity}}]}', "-Infinity is not a JSON"),
        (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (b'{"data": [{"text": "caf\xe9"}]}', "not valid JSON: 'utf-8' codec"),  # Latin-1
        (b"[1]", "the request body must be a JSON object, got an array"),
        (b"null", "must be a JSON object, got null"),
        (b'{"dataa": []}', "unknown key 'dataa'"),
        (b'{"data": [{"txt": "x"}]}', r"data\[0\].*'txt'"),
    ],
)
def test_bad_raw_bodies_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        parse_post_body(raw)


@pytest.mark.parametrize("text", [
    "2026-11-30T03:08:15.204164Z", "2026-11-30T03:08:15Z", "1970-01-01T00:00:00.000000001Z",
    "2026-11-30T03:08:15.204164123Z", "2026-11-30T03:08:15.2Z", "1969-12-31T23:59:59.5Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
    "2026-11-30T03:08:15+01:00", "2026-11-30T03:08:15.5-02:30",  # offsets: protobuf parses
])
def test_route_times_read_as_protobuf_reads_them(text: str) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    expected = Timestamp()
    expected.FromJsonString(text)
    body = {"routes": [{"executor": "e", "startTime": text, "end_time": text}]}
    (route,) = response_from_json(body).routes
    assert (route.executor, route.start_time, route.end_time) == ("e", expected, expected)


@pytest.mark.parametrize("text", ["2026-11-30T03:08:15.²Z", "2026-13-30T03:08:15Z",
                                  "2026-11-30 03:08:15Z", "yesterday", "2026-11-30T03:08Z"])
def test_bad_route_times_name_the_route(text: str) -> None:
    with pytest.raises(BadRequestError, match=r"routes\[1\]"):
        response_from_json({"routes": [{"executor": "a"}, {"startTime": text}]})


def _response() -> DataRequest:
    resp = DataRequest.new(
        _docs(), endpoint="/foo", parameters={"__results__": {"enc": {"n": 2}}}, request_id="r9"
    )
    route = resp.routes.add()
    route.executor = "gateway"
    route.start_time.FromMilliseconds(1_700_000_000_000)
    route.end_time.FromMilliseconds(1_700_000_000_250)
    route = resp.routes.add()
    route.executor = "enc"
    return resp


def test_success_response_round_trip() -> None:
    resp = _response()
    body = _through_json(response_to_json(resp))
    assert body["header"]["requestId"] == "r9"
    assert body["header"]["execEndpoint"] == "/foo"
    assert body["header"]["status"] == {"code": 0, "description": ""}
    assert [r["executor"] for r in body["routes"]] == ["gateway", "enc"]
    assert body["routes"][0]["startTime"].startswith("2023-11-14T22:13:20")
    assert body["parameters"] == {"__results__": {"enc": {"n": 2}}}

    back = response_from_json(body)
    assert not back.is_error
    assert back.request_id == "r9" and back.endpoint == "/foo"
    assert back.parameters == {"__results__": {"enc": {"n": 2}}}
    assert list(back.routes) == list(resp.routes)
    assert [d.id for d in back.docs] == ["a", "b"]
    assert back.docs[0].tags == {"k": 1, "nested": {"x": [1, 2]}}
    np.testing.assert_array_equal(back.docs[1].embedding, [0.5, 1.5])


def test_error_response_round_trip() -> None:
    resp = _response()
    try:
        raise ValueError("boom", 7)
    except ValueError as exc:
        resp.set_exception(exc, executor="enc")
    resp.routes[1].status.CopyFrom(resp.status)
    body = _through_json(response_to_json(resp))
    status = body["header"]["status"]
    assert status["code"] == 1
    assert status["exception"]["name"] == "ValueError"
    assert status["exception"]["args"] == ["boom", "7"]
    assert status["exception"]["executor"] == "enc"
    assert any("ValueError" in line for line in status["exception"]["stacks"])
    assert body["routes"][1]["status"]["code"] == 1

    back = response_from_json(body)
    assert back.is_error and back.status.code == ERROR
    assert back.status == resp.status
    assert list(back.routes) == list(resp.routes)


def test_response_reader_is_lenient_but_checks_shapes() -> None:
    # snake_case, enum names and unknown keys (a Jina gateway's style) are fine
    back = response_from_json(
        {
            "header": {"request_id": "r", "status": {"code": "ERROR"}, "future": 1},
            "data": {"docs": [{"text": "x"}]},
            "extra": True,
        }
    )
    assert back.request_id == "r" and back.is_error and back.docs[0].text == "x"
    with pytest.raises(BadRequestError, match="response body"):
        response_from_json([])
    with pytest.raises(BadRequestError, match="header"):
        response_from_json({"header": []})
    with pytest.raises(BadRequestError, match=r"routes\[0\]"):
        response_from_json({"routes": [{"startTime": "yesterday"}]})
    with pytest.raises(BadRequestError, match=r"data\[0\]"):
        response_from_json({"data": [{"bogus": 1}]})


# -- the header and routes are written and read without protobuf's JSON printer and parser on
# the common path; they must say exactly what the printer and parser say


def _printed(message: Any) -> dict[str, Any]:
    """What protobuf's printer writes for a header or route, with the status defaults the
    gateway adds."""
    from google.protobuf import json_format

    printed = json_format.MessageToDict(message, use_integers_for_enums=True)
    statuses = [printed.setdefault("status", {})] if message.DESCRIPTOR.name == "HeaderProto" \
        else [printed["status"]] if "status" in printed else []
    for status in statuses:
        status.setdefault("code", 0)
        status.setdefault("description", "")
        if "exception" in status:
            for key, default in (("name", ""), ("args", []), ("stacks", []), ("executor", "")):
                status["exception"].setdefault(key, default)
    return printed


_texts = st.text(max_size=8)


@st.composite
def _statuses(draw: st.DrawFn, status: Any) -> None:
    status.code = draw(st.sampled_from([0, 1]))
    status.description = draw(_texts)
    if draw(st.booleans()):
        status.exception.name = draw(_texts)
        status.exception.args.extend(draw(st.lists(_texts, max_size=2)))
        status.exception.executor = draw(_texts)


@st.composite
def _responses(draw: st.DrawFn) -> DataRequest:
    response = DataRequest()
    header = response.header
    header.request_id = draw(_texts)
    for field in ("exec_endpoint", "target_executor"):
        if draw(st.booleans()):
            setattr(header, field, draw(_texts))
    if draw(st.booleans()):
        header.timeout = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        draw(_statuses(header.status))
    for _ in range(draw(st.integers(0, 3))):
        route = response.routes.add()
        route.executor = draw(_texts)
        for field in ("start_time", "end_time"):
            if draw(st.booleans()):
                getattr(route, field).FromNanoseconds(draw(st.integers(0, 2**62)))
        if draw(st.booleans()):
            draw(_statuses(route.status))
    return response


@settings(max_examples=300, deadline=None)
@given(_responses())
def test_header_and_routes_are_written_as_protobuf_prints_them(response: DataRequest) -> None:
    body = response_to_json(response)
    assert body["header"] == _printed(response.header)
    assert body["routes"] == [_printed(route) for route in response.routes]


@settings(max_examples=300, deadline=None)
@given(_responses())
def test_header_and_routes_are_read_as_protobuf_parses_them(response: DataRequest) -> None:
    body = _through_json(response_to_json(response))
    back = response_from_json(body)
    assert back.header == response.header or (
        # the printer's status defaults make an absent header status present (and empty)
        not response.header.HasField("status") and back.header.status == response.header.status)
    assert list(back.routes) == list(response.routes)


@pytest.mark.parametrize("header", [
    {"requestId": 5}, {"status": {"code": 7}}, {"status": {"code": True}}, {"status": []},
    {"status": {"code": "WARNING"}}, {"status": {"description": 3}}, {"execEndpoint": None},
    {"request_id": "r", "status": {"code": "SUCCESS", "description": "d"}, "timeout": 5},
])
def test_odd_header_values_are_read_as_protobuf_parses_them(header: dict[str, Any]) -> None:
    from google.protobuf import json_format

    expected = DataRequest().header
    try:
        json_format.ParseDict(header, expected, ignore_unknown_fields=True)
    except json_format.ParseError:
        with pytest.raises(BadRequestError, match="header"):
            response_from_json({"header": header})
        return
    assert response_from_json({"header": header}).header == expected
