"""Server-sent events: what the gateway writes reads back as the standard parses it."""

from __future__ import annotations

import asyncio

from flowserve.wire.sse import Event, encode_event, read_events


def parse(text: str) -> list[Event]:
    async def lines():
        for line in text.splitlines():
            yield line

    async def go():
        return [e async for e in read_events(lines())]

    return asyncio.run(go())


def test_encoded_events_read_back_with_multiline_data():
    wire = (encode_event("update", '{"a": 1}') + encode_event("error", "two\nlines")
            + encode_event("end")).decode()
    assert parse(wire) == [Event("update", '{"a": 1}'), Event("error", "two\nlines"),
                           Event("end", "")]


def test_comments_unnamed_events_and_a_missing_last_blank_line():
    assert parse(": keep-alive\n\ndata: x\ndata:y\n\nevent: end") == [
        Event("message", "x\ny"), Event("end", "")]
