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
    """An httpx.AsyncClient to `address` shared by all posts (its connection pool is reused).

    `transport` replaces the network, e.g. ``httpx.ASGITransport(app)`` in tests.
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
    ) -> None:
        self.address = address
        self._headers = {CLIENT_ID_HEADER: client_id} if client_id else {}
        self._verify = http_verify(ca_file) if address.tls else True
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._transport = transport
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            scheme = "https" if self.address.tls else "http"
            self._client = httpx.AsyncClient(
                base_url=f"{scheme}://{self.address.target}",
                transport=self._transport,
                limits=self._limits,
                verify=self._verify,
                headers={**self._headers, **self._auth},
                # Waiting for a pooled connection is our own queueing, never a timeout.
                timeout=httpx.Timeout(None, connect=_CONNECT_TIMEOUT, pool=None),
            )
            self._loop = loop
        return self._client

    def _timeout(self, timeout: float | None) -> httpx.Timeout:
        connect = _CONNECT_TIMEOUT if timeout is None else min(timeout, _CONNECT_TIMEOUT)
        return httpx.Timeout(timeout, connect=connect, pool=None)

    single_posts = False  # every request is one POST: a stream costs nothing extra

    def stream_metadata(self, prefetch: int | None,
                        results_in_order: bool) -> list[tuple[str, str]]:
        """None: prefetch and order are the client's own business over HTTP."""
        return []

    async def post_single(self, request: DataRequest, metadata: Sequence[tuple[str, str]],
                          timeout: float | None) -> SingleReply:
        return None

    async def open_stream(
        self, metadata: Sequence[tuple[str, str]], timeout: float | None
    ) -> HttpStream:
        self._ensure_client()
        return HttpStream(self, dict(metadata), timeout)

    async def post_one(
        self, request: DataRequest, headers: dict[str, str], timeout: float | None
    ) -> DataRequest:
        """POST one request; raises RequestError, or StreamBroken when nobody listens."""
        client = self._ensure_client()
        try:
            reply = await client.post(
                "/post",
                json=post_body_from_request(request),
                headers=headers or None,
                timeout=self._timeout(timeout),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            error = UnavailableError(f"cannot reach the gateway at {self.address}: {exc}")
            raise StreamBroken(error, fatal=True) from exc
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError(
                f"no answer from {self.address} within {timeout}s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            hint = plaintext_hint(self.address.tls, "http", f"{type(exc).__name__}: {exc}")
            raise UnavailableError(f"{self.address}: {type(exc).__name__}: {exc}{hint}") from exc
        if reply.status_code != 200:
            raise error_from_http(reply, self.address)
        try:
            return response_from_json(reply.json())
        except (ValueError, UnicodeDecodeError) as exc:  # includes BadRequestError
            raise RequestError(f"{self.address} sent an unreadable response: {exc}") from exc

    def stream_doc(self, request: StreamMessage, metadata: Sequence[tuple[str, str]],
                   timeout: float | None) -> AsyncGenerator[Document, None]:
        """A streaming endpoint's documents over SSE (`_streaming.http_stream_doc`)."""
        return http_stream_doc(self._ensure_client(), request, dict(metadata), timeout,
                               self.address)

    async def _get(self, path: str, timeout: float | None) -> httpx.Response | None:
        client = self._ensure_client()
        try:
            return await client.get(path, timeout=self._timeout(timeout or _READY_TIMEOUT))
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
        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()
