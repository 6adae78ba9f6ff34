"""The JSON shapes of the HTTP protocol, shared by the client and the HTTP gateway.

Request body of ``POST /post`` (client -> gateway)::

    {"data": [doc, ...] | {"docs": [doc, ...]},   # docs as in documents.json_codec
     "parameters": {...},
     "execEndpoint": "/foo",        # or exec_endpoint
     "targetExecutor": "regex",     # or target_executor
     "requestId": "...",            # or request_id
     "timeout": 1500,               # per-request deadline in ms (header.timeout); optional
     "header": {"requestId": ..., "execEndpoint": ..., "targetExecutor": ..., "timeout": ...}}

Every key is optional; any other key is rejected. ``header`` is what Jina's HTTP client sends
(protobuf JSON, either case); a top-level key wins over the same field in ``header``.

Response body (gateway -> client)::

    {"header": {"requestId": "...", "status": {"code": 0|1, "description": "...",
                 "exception": {"name", "args", "stacks", "executor"}},
                "execEndpoint": "/foo", "targetExecutor": "..."},
     "parameters": {...},
     "routes": [{"executor", "startTime", "endTime", "status"}, ...],
     "data": [doc, ...]}

``header`` and ``routes`` are protobuf JSON (camelCase, enums as integers); readers accept
snake_case and enum names too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from google.protobuf import json_format, timestamp_pb2

from ..documents.array import DocumentArray
from ..errors import BadRequestError
from .request import DataRequest

__all__ = [
    "load_body",
    "parse_post_body",
    "post_body_from_request",
    "request_from_post_body",
    "response_from_json",
    "response_to_json",
]

# accepted request-body key -> canonical name
_BODY_KEYS: dict[str, str] = {
    "data": "data",
    "parameters": "parameters",
    "execEndpoint": "exec_endpoint",
    "exec_endpoint": "exec_endpoint",
    "targetExecutor": "target_executor",
    "target_executor": "target_executor",
    "requestId": "request_id",
    "request_id": "request_id",
    "timeout": "timeout",
    "header": "header",
}
_KNOWN = "data, parameters, execEndpoint, targetExecutor, requestId, timeout, header"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _docs_from_json(data: Any, where: str) -> DocumentArray:
    """``data`` as a list of docs or ``{"docs": [...]}``; errors name ``data[i]``."""
    if data is None:
        return DocumentArray()
    if isinstance(data, Mapping):
        extra = [k for k in data if k != "docs"]
        if extra:
            raise BadRequestError(f"{where}: unknown key {extra[0]!r}; expected only 'docs'")
        return _docs_from_json(data.get("docs"), f"{where}.docs")
    if not isinstance(data, (list, tuple)):
        raise BadRequestError(
            f"{where}: expected a list of Documents or {{'docs': [...]}}, got {_kind(data)}"
        )
    return DocumentArray.from_dict_list(data, where=where)


# -- requests -------------------------------------------------------------------------------


def post_body_from_request(request: DataRequest) -> dict[str, Any]:
    """The ``POST /post`` JSON body for `request` (client side)."""
    body: dict[str, Any] = {"data": request.docs.to_dict_list()}
    if request.parameters:
        body["parameters"] = request.parameters
    if request.endpoint is not None:
        body["execEndpoint"] = request.endpoint
    if request.target_executor is not None:
        body["targetExecutor"] = request.target_executor
    if request.request_id:
        body["requestId"] = request.request_id
    header = request.header
    if header.HasField("timeout") and header.timeout:
        body["timeout"] = header.timeout
    return body


def _optional_str(fields: dict[str, Any], name: str, key: str) -> str | None:
    value = fields.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"{key} must be a string, got {_kind(value)}")
    return value


def request_from_post_body(body: Any) -> DataRequest:
    """Parse a ``POST /post`` JSON body into a DataRequest (gateway side).

    Raises BadRequestError naming the offending key, or ``data[i]`` and the field for a bad
    document.
    """
    if not isinstance(body, Mapping):
        raise BadRequestError(f"the request body must be a JSON object, got {_kind(body)}")
    fields: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in body.items():
        name = _BODY_KEYS.get(key)
        if name is None:
            raise BadRequestError(f"unknown key {key!r} in the request body; expected {_KNOWN}")
        if name in fields:
            raise BadRequestError(f"{key!r} and {given_as[name]!r} both given; use one")
        fields[name] = value
        given_as[name] = key

    def key_of(name: str) -> str:
        return given_as.get(name, name)

    if fields.get("header") is not None:
        _fill_from_header(fields, fields["header"])

    parameters = fields.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise BadRequestError(f"parameters must be a JSON object, got {_kind(parameters)}")
    endpoint = _optional_str(fields, "exec_endpoint", key_of("exec_endpoint"))
    target = _optional_str(fields, "target_executor", key_of("target_executor"))
    request_id = _optional_str(fields, "request_id", key_of("request_id"))
    timeout = fields.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout < 2**32
    ):
        raise BadRequestError(f"timeout must be a whole number of milliseconds, got {timeout!r}")
    docs = _docs_from_json(fields.get("data"), "data")
    return DataRequest.new(
        docs,
        endpoint=endpoint,
        parameters=dict(parameters) if parameters else None,
        target_executor=target,
        request_id=request_id or None,
        timeout_ms=timeout or None,
    )


def load_body(raw: bytes | str, what: str = "request body") -> Any:
    """The JSON of a request body (or of `what` else a client sent: a websocket message),
    gateway side, parsed strictly: NaN and Infinity are not JSON numbers. Raises
    BadRequestError saying what was wrong: not JSON (and where), or nested too deeply."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequestError(f"the {what} is nested too deeply to parse") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN
        raise BadRequestError(f"{what} is not valid JSON: {exc}") from None


def parse_post_body(raw: bytes) -> DataRequest:
    """The DataRequest of a raw ``POST /post`` body (gateway side): parsed once (`load_body`),
    then `request_from_post_body`; an empty body is ``{}``.

    Raises BadRequestError saying what was wrong: not JSON, nested too deeply, or a bad key
    or document.
    """
    return request_from_post_body(load_body(raw or b"{}"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _fill_from_header(fields: dict[str, Any], header_json: Any) -> None:
    """Take the fields of Jina's ``header`` object that the body does not give at top level."""
    header = DataRequest().header
    _parse_into(header_json, header, "header")
    if header.request_id:
        fields.setdefault("request_id", header.request_id)
    if header.HasField("exec_endpoint"):
        fields.setdefault("exec_endpoint", header.exec_endpoint)
    if header.HasField("target_executor") and header.target_executor:
        fields.setdefault("target_executor", header.target_executor)
    if header.HasField("timeout") and header.timeout:
        fields.setdefault("timeout", header.timeout)


# -- responses ------------------------------------------------------------------------------


def _status_to_json(status_json: dict[str, Any]) -> dict[str, Any]:
    status_json.setdefault("code", 0)
    status_json.setdefault("description", "")
    exception = status_json.get("exception")
    if exception is not None:
        for key, default in (("name", ""), ("args", []), ("stacks", []), ("executor", "")):
            exception.setdefault(key, default)
    return status_json


def _status_json(status: Any) -> dict[str, Any]:
    """A status as protobuf JSON, written directly (protobuf's printer costs more than the
    rest of answering a request); an exception, rare, goes through the printer."""
    status_json: dict[str, Any] = {"code": status.code, "description": status.description}
    if status.HasField("exception"):
        status_json["exception"] = json_format.MessageToDict(status.exception)
    return _status_to_json(status_json)


def _header_json(header: Any) -> dict[str, Any]:
    header_json: dict[str, Any] = {}
    if header.request_id:
        header_json["requestId"] = header.request_id
    if header.HasField("exec_endpoint"):
        header_json["execEndpoint"] = header.exec_endpoint
    if header.HasField("target_executor"):
        header_json["targetExecutor"] = header.target_executor
    if header.HasField("timeout"):
        header_json["timeout"] = header.timeout
    header_json["status"] = _status_json(header.status)
    return header_json


def _route_json(route: Any) -> dict[str, Any]:
    route_json: dict[str, Any] = {}
    if route.executor:
        route_json["executor"] = route.executor
    if route.HasField("start_time"):
        route_json["startTime"] = route.start_time.ToJsonString()
    if route.HasField("end_time"):
        route_json["endTime"] = route.end_time.ToJsonString()
    if route.HasField("status"):
        route_json["status"] = _status_json(route.status)
    return route_json


def response_to_json(request: DataRequest) -> dict[str, Any]:
    """The JSON body answering ``POST /post`` with `request` (gateway side): protobuf JSON for
    the header and routes (as ``json_format.MessageToDict`` with enums as integers, with a
    status's code and description always present)."""
    return {
        "header": _header_json(request.header),
        "parameters": request.parameters,
        "routes": [_route_json(route) for route in request.routes],
        "data": request.docs.to_dict_list(),
    }


def _parse_into(value: Any, message: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{where} must be a JSON object, got {_kind(value)}")
    try:
        json_format.ParseDict(cast(dict[str, Any], value), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise BadRequestError(f"{where}: {exc}") from exc


_ROUTE_TIMES = (("startTime", "start_time"), ("start_time", "start_time"),
                ("endTime", "end_time"), ("end_time", "end_time"))
_HEADER_STRINGS = {"requestId": "request_id", "request_id": "request_id",
                   "execEndpoint": "exec_endpoint", "exec_endpoint": "exec_endpoint",
                   "targetExecutor": "target_executor", "target_executor": "target_executor"}
_ROUTE_STRINGS = {"executor": "executor"}
_STATUS_CODES = {0: 0, 1: 1, "SUCCESS": 0, "ERROR": 1}


def _set_plain_fields(value: Mapping[str, Any], message: Any,
                      strings: Mapping[str, str]) -> dict[str, Any]:
    """Set on `message` the string fields of `value` named in `strings` and a plain status
    (code and description only); what is left, for protobuf's parser. A response carries a
    header and a route per executor visited, and protobuf's parser takes longer than the rest
    of reading it; anything unusual (an exception, a wrong type) is left to it."""
    rest = {}
    for key, item in value.items():
        field = strings.get(key)
        if field is not None and isinstance(item, str):
            setattr(message, field, item)
        elif key == "status" and _set_plain_status(item, message.status):
            pass
        else:
            rest[key] = item
    return rest


def _set_plain_status(value: Any, status: Any) -> bool:
    if not isinstance(value, Mapping) or not value.keys() <= {"code", "description"}:
        return False
    code = value.get("code", 0)
    description = value.get("description", "")
    if (isinstance(code, bool) or not isinstance(code, (int, str))
            or code not in _STATUS_CODES or not isinstance(description, str)):
        return False
    status.code = _STATUS_CODES[code]
    status.description = description
    return True


def _parse_header(value: Any, header: Any) -> None:
    """`_parse_into` for a response header (`_set_plain_fields`)."""
    if not isinstance(value, Mapping):
        raise BadRequestError(f"header must be a JSON object, got {_kind(value)}")
    rest = _set_plain_fields(value, header, _HEADER_STRINGS)
    if rest:
        _parse_into(rest, header, "header")


def _parse_route(value: Any, route: Any, where: str) -> None:
    """`_parse_into` for a route, with its times read by `_parse_utc_time` and its plain
    fields set directly (`_set_plain_fields`)."""
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{where} must be a JSON object, got {_kind(value)}")
    rest = _set_plain_fields(value, route, _ROUTE_STRINGS)
    for key, field in _ROUTE_TIMES:
        text = rest.get(key)
        if isinstance(text, str) and _parse_utc_time(text, getattr(route, field)):
            del rest[key]
    if rest:
        _parse_into(rest, route, where)


def _parse_utc_time(text: str, timestamp: timestamp_pb2.Timestamp) -> bool:
    """Set `timestamp` from the RFC 3339 UTC form protobuf writes (``2026-01-02T03:04:05Z``,
    up to 9 fraction digits); False, leaving it alone, for any other form."""
    date, _, fraction = text.removesuffix("Z").partition(".")
    if (not text.endswith("Z") or len(date) != 19 or date[10] != "T"
            or (fraction and not (fraction.isascii() and fraction.isdigit()
                                  and len(fraction) <= 9))):
        return False
    try:
        moment = datetime.fromisoformat(date)
    except ValueError:
        return False
    if moment.tzinfo is not None:  # e.g. "2026-01-02T03:04+01" is 19 characters too
        return False
    timestamp.seconds = int(moment.replace(tzinfo=UTC).timestamp())
    timestamp.nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return True


def response_from_json(body: Any) -> DataRequest:
    """Parse a ``POST /post`` response body into a DataRequest (client side).

    Unknown top-level keys are ignored, so newer gateways stay readable.
    """
    if not isinstance(body, Mapping):
        raise BadRequestError(f"the response body must be a JSON object, got {_kind(body)}")
    response = DataRequest()
    header = body.get("header")
    if header is not None:
        _parse_header(header, response.header)
    routes = body.get("routes")
    if routes is not None:
        if not isinstance(routes, (list, tuple)):
            raise BadRequestError(f"routes must be an array, got {_kind(routes)}")
        for i, route in enumerate(routes):
            _parse_route(route, response.routes.add(), f"routes[{i}]")
    parameters = body.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, Mapping):
            raise BadRequestError(f"parameters must be a JSON object, got {_kind(parameters)}")
        response.parameters = dict(parameters)
    response.docs = _docs_from_json(body.get("data"), "data")
    return response
