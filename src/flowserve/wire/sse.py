"""Server-sent events (the WHATWG ``text/event-stream`` format), as the gateway writes them for
streaming endpoints and the client reads them.

Events are written as Jina 3's gateway writes them (``event: <name>``, ``data: <json>``, lines
ended by CRLF, a blank line after each event), because Jina's HTTP client finds the document
of an ``update`` event at a fixed offset after ``event: ``. Events: ``update`` (one document),
``error`` (``{"error": <class name>, "detail": <message>, ...}``, the stream's last), and
``end`` (the stream finished normally).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

__all__ = ["EVENT_STREAM", "Event", "encode_event", "read_events"]

EVENT_STREAM = "text/event-stream"
UPDATE, ERROR, END = "update", "error", "end"


@dataclass(frozen=True)
class Event:
    """One event: its name (``message`` when unnamed) and its data (lines joined by ``\\n``)."""

    name: str
    data: str


def encode_event(name: str, data: str = "") -> bytes:
    """One event in wire form (`data` may hold newlines: one ``data:`` line each)."""
    lines = [f"event: {name}"]
    if data:
        lines += [f"data: {line}" for line in data.split("\n")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_events(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """The events of a stream given as its lines (without line ends), as the standard parses
    them: ``field: value`` lines, comments (``:``) skipped, a blank line dispatches."""
    name, data = "", list[str]()
    async for line in lines:
        if not line:
            if data or name:
                yield Event(name or "message", "\n".join(data))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data or name:
        yield Event(name or "message", "\n".join(data))
