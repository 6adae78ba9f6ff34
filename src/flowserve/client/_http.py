"""The client's HTTP transport: one ``POST /post`` per request, up to `prefetch` at once.

HTTP failures become flowserve errors here and nowhere else (`error_from_http`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx

from ..documents.document import Document
from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    OverloadedError,
    RequestError,
    UnavailableError,
)
from ..wire.httpjson import post_body_from_request, response_from_json
from ..wire.names import CLIENT_ID_HEADER, RETRY_AFTER
from ..wire.request import DataRequest
from ..wire.status import ERRORS_BY_NAME, error_for_http_status
from ..wire.stream import StreamMessage
from ._address import Address
from ._engine import Failed, StreamBroken
from ._http_blocking import BlockingConnection, BlockingReply
from ._streaming import http_stream_doc
from ._tls import http_verify, plaintext_hint
from ._transport import SingleReply

__all__ = ["HttpStream", "HttpTransport", "error_from_http"]

_CONNECT_TIMEOUT = 10.0
_READY_TIMEOUT = 5.0
_EOF = object()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get(RETRY_AFTER)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; not worth parsing for a hint


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """(error class name, message) from a gateway error body, when it has them."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return "", response.text.strip()[:500]
    if not isinstance(body, dict):
        return "", str(body)[:500]
    name = body.get("error") or ""
    message = body.get("detail") or body.get("description") or ""
    header = body.get("header")
    status = header.get("status") if isinstance(header, dict) else None
    if isinstance(status, dict):  # a full response JSON with an error status
        exception = status.get("exception")
        name = name or (exception.get("name", "") if isinstance(exception, dict) else "")
        message = message or status.get("description", "")
    return str(name), message if isinstance(message, str) else json.dumps(message)


def transport_error(exc: httpx.TransportError, address: Address,
                    timeout: float | None) -> RequestError:
    """What a failure to talk to the gateway at `address` means to the caller (posts and
    streams): unreachable, no answer within `timeout`, or a broken connection."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return UnavailableError(f"cannot reach the gateway at {address}: {exc}")
    if isinstance(exc, httpx.TimeoutException):
        return DeadlineExceededError(
            f"no answer from {address} within {timeout}s ({type(exc).__name__})")
    hint = plaintext_hint(address.tls, "http", f"{type(exc).__name__}: {exc}")
    return UnavailableError(f"{address}: {type(exc).__name__}: {exc}{hint}")


def error_from_http(response: httpx.Response, address: Address | str) -> RequestError:
    """The one place HTTP error statuses become flowserve errors.

    The error class named by the gateway's body (``{"error": "OverloadedError", "detail":
    "..."}``) wins; otherwise 429 (and 503 with Retry-After) -> OverloadedError, 503 ->
    UnavailableError, 504 -> DeadlineExceededError, other 4xx -> BadRequestError.
    """
    code = response.status_code
    if code == 401:
        return RequestError(f"{address} refused the request: HTTP 401 Unauthorized "
                            "(give the Client a valid token=...)")
    name, message = _error_body(response)
    message = message or f"HTTP {code} {response.reason_phrase} from {address}"
    retry_after = _retry_after(response)
    cls = ERRORS_BY_NAME.get(name)
    if cls is None:
        if code == 503 and retry_after is not None:  # unavailable for now: overloaded
            cls = OverloadedError
        else:
            cls = error_for_http_status(code) or (BadRequestError if 400 <= code < 500 else None)
        if cls is None:
            return RequestError(f"HTTP {code} from {address}: {message}")
    if cls is OverloadedError:
        return OverloadedError(message, retry_after=1.0 if retry_after is None else retry_after)
    if cls is UnavailableError and str(address) not in message:
        message = f"{address}: {message}"
    return cls(message)


class HttpStream:
    """Concurrent ``POST /post`` requests presented as one stream to the engine."""

    def __init__(
        self, transport: HttpTransport, headers: dict[str, str], timeout: float | None
    ) -> None:
        self._transport = transport
        self._headers = headers
        self._timeout = timeout
        self._results: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writing = True

    async def write(self, request: DataRequest) -> bool:
        task = asyncio.create_task(self._one(request))
        self._tasks.add(task)
        return True

    async def _one(self, request: DataRequest) -> None:
        try:
            result: Any = await self._transport.post_one(request, self._headers, self._timeout)
        except RequestError as exc:
            result = Failed(request.request_id, exc)
        except Exception as exc:  # noqa: BLE001 - StreamBroken, or a bug: read() re-raises it
            result = exc
        self._results.put_nowait(result)
        self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
        if not self._writing and not self._tasks:
            self._results.put_nowait(_EOF)

    async def done_writing(self) -> None:
        self._writing = False
        if not self._tasks:
            self._results.put_nowait(_EOF)

    async def read(self) -> DataRequest | Failed | None:
        item = await self._results.get()
        if item is _EOF:
            return None
        if isinstance(item, Exception):
            raise item
        return item  # type: ignore[no-any-return]

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()


class HttpTransport:
    """One httpx transport (connection pool) to `address`, shared by all posts.

    Requests go to the transport directly, without an ``httpx.AsyncClient`` around it: the
    client's per-request work (URL merging, cookies, auth and redirect handling) is nothing a
    gateway needs, and it cost more CPU than the HTTP exchange itself.
    `transport` replaces the network, e.g. ``httpx.ASGITransport(app)`` in tests.

    `blocking` says the event loop running this transport belongs to a blocking `Client`,
    which runs one post at a time on it: a post of one request may then block the loop, and
    goes over one synchronous keep-alive connection (`_http_blocking`), which costs a fraction
    of the CPU of an asyncio one per request. Posts of several requests stay concurrent, on
    asyncio.
    """

    def __init__(
        self,
        address: Address,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        client_id: str | None = None,
        ca_file: str | None = None,
        token: str | None = None,
        blocking: bool = False,
    ) -> None:
        self.address = address
        self._blocking = blocking and transport is None
        scheme = "https" if address.tls else "http"
        self._base = f"{scheme}://{address.target}"
        self._post_url = httpx.URL(f"{self._base}/post")
        self._headers = {CLIENT_ID_HEADER: client_id} if client_id else {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._verify = http_verify(ca_file) if address.tls else True
        self._given = transport
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._pool: httpx.AsyncBaseTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: BlockingConnection | None = None

    def _ensure_pool(self) -> httpx.AsyncBaseTransport:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:  # a pool's connections are per loop
            self._pool = self._given or httpx.AsyncHTTPTransport(verify=self._verify,
                                                                 limits=self._limits)
            self._loop = loop
        return self._pool

    def _post_headers(self, extra: dict[str, str]) -> httpx.Headers | dict[str, str]:
        headers = {**self._headers, "content-type": "application/json"}
        if not extra:
            return headers
        merged = httpx.Headers(headers)
        merged.update(extra)  # the caller's metadata wins, whatever its case
        return merged

    async def _send(self, method: str, url: httpx.URL, headers: httpx.Headers | dict[str, str],
                    timeout: httpx.Timeout, content: bytes | None = None) -> httpx.Response:
        """The whole response (its body read) to one request; raises httpx errors."""
        pool = self._ensure_pool()
        request = httpx.Request(method, url, headers=headers, content=content,
                                extensions={"timeout": timeout.as_dict()})
        response = await pool.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        response.request = request
        return response

    def _send_blocking(self, headers: httpx.Headers | dict[str, str], timeout: float | None,
                       content: bytes) -> BlockingReply:
        """`_send` of a POST to /post on the blocking connection (see `blocking`)."""
        if self._connection is None:
            self._connection = BlockingConnection(self.address, self._verify)
        connect = _CONNECT_TIMEOUT if timeout is None else min(timeout, _CONNECT_TIMEOUT)
        return self._connection.post("/post", content, headers, timeout, connect)

    def _timeout(self, timeout: float | None) -> httpx.Timeout:
        connect = _CONNECT_TIMEOUT if timeout is None else min(timeout, _CONNECT_TIMEOUT)
        return httpx.Timeout(timeout, connect=connect, pool=None)

    single_posts = True  # one POST, without the engine's sender and receiver tasks

    def stream_metadata(self, prefetch: int | None,
                        results_in_order: bool) -> list[tuple[str, str]]:
        """None: prefetch and order are the client's own business over HTTP."""
        return []

    async def post_single(self, request: DataRequest, metadata: Sequence[tuple[str, str]],
                          timeout: float | None) -> SingleReply:
        """One ``POST /post``; a failure of this request alone is returned with it, and an
        unreachable gateway raises, as on a stream."""
        try:
            return await self.post_one(request, dict(metadata), timeout, block=self._blocking)
        except StreamBroken as broken:
            raise broken.error from None
        except RequestError as exc:
            return request, exc

    async def open_stream(
        self, metadata: Sequence[tuple[str, str]], timeout: float | None
    ) -> HttpStream:
        return HttpStream(self, dict(metadata), timeout)

    async def post_one(
        self, request: DataRequest, headers: dict[str, str], timeout: float | None,
        *, block: bool = False,
    ) -> DataRequest:
        """POST one request; raises RequestError, or StreamBroken when nobody listens.
        `block`: on the synchronous pool, blocking the loop until the answer."""
        try:  # as httpx's ``json=``: compact, and NaN/Infinity are not JSON
            content = json.dumps(post_body_from_request(request), ensure_ascii=False,
                                 separators=(",", ":"), allow_nan=False).encode()
        except ValueError as exc:  # also lone surrogates (UnicodeEncodeError)
            raise BadRequestError(
                f"request {request.request_id} cannot be sent as JSON: {exc}") from exc
        post_headers = self._post_headers(headers)
        reply: httpx.Response | BlockingReply
        try:
            if block:
                reply = self._send_blocking(post_headers, timeout, content)
            else:
                reply = await self._send("POST", self._post_url, post_headers,
                                         self._timeout(timeout), content)
        except httpx.TransportError as exc:
            error = transport_error(exc, self.address, timeout)
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise StreamBroken(error, fatal=True) from exc
            raise error from exc
        if reply.status_code != 200:
            raise error_from_http(reply if isinstance(reply, httpx.Response)
                                  else reply.as_httpx(), self.address)
        try:
            return response_from_json(json.loads(reply.content))
        except (ValueError, UnicodeDecodeError) as exc:  # includes BadRequestError
            raise RequestError(f"{self.address} sent an unreadable response: {exc}") from exc

    def stream_doc(self, request: StreamMessage, metadata: Sequence[tuple[str, str]],
                   timeout: float | None) -> AsyncGenerator[Document, None]:
        """A streaming endpoint's documents over SSE (`_streaming.http_stream_doc`)."""
        # an httpx client over the shared pool, for its streaming API; the pool outlives it
        client = httpx.AsyncClient(base_url=self._base, transport=self._ensure_pool(),
                                   headers=self._headers)
        return http_stream_doc(client, request, dict(metadata), timeout, self.address)

    async def _get(self, path: str, timeout: float | None) -> httpx.Response | None:
        try:
            return await self._send("GET", httpx.URL(self._base + path), self._headers,
                                    self._timeout(timeout or _READY_TIMEOUT))
        except httpx.HTTPError:
            return None

    async def dry_run(self, timeout: float | None = None) -> bool:
        """``GET /dry_run``: True when its JSON ``code`` is 0 / ``"SUCCESS"``."""
        reply = await self._get("/dry_run", timeout)
        if reply is None or reply.status_code != 200:
            return False
        with contextlib.suppress(ValueError, AttributeError):
            body = reply.json()
            code = body.get("code", (body.get("status") or {}).get("code"))
            return code in (0, "SUCCESS")
        return False

    async def is_ready(self, timeout: float | None = None) -> bool:
        """``GET /``: True on HTTP 200."""
        reply = await self._get("/", timeout)
        return reply is not None and reply.status_code == 200

    async def close(self) -> None:
        pool, loop = self._pool, self._loop
        self._pool = self._loop = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        if pool is not None and loop is asyncio.get_running_loop():
            await pool.aclose()
