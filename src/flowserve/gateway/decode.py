"""Client messages the gateway cannot decode (nested deeper than protobuf's 100 levels, or
corrupt): answered per request, never by ending the whole stream.

grpc's own decoding ends a `Call` stream with UNKNOWN "Unexpected DecodeError" and loses every
other request on it. The gateway's services take the undecoded bytes instead; a message that
does not decode becomes an `Undecodable`, answered in-band with a BadRequestError that carries
the request's id (its header, field 1, is read from the raw message).
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from ..errors import BadRequestError
from ..proto import jina_pb2
from ..wire.request import DataRequest

__all__ = ["Undecodable", "decode_request"]


class Undecodable:
    """A client message that did not decode, and why."""

    def __init__(self, raw: bytes, exc: Exception) -> None:
        self.raw = raw
        self.error = BadRequestError(
            "undecodable request (nested deeper than protobuf's limit of 100 levels, or "
            f"corrupt): {str(exc) or type(exc).__name__}")

    def error_reply(self) -> jina_pb2.DataRequestProto:
        """An error reply carrying the request's header, where it can be read."""
        reply = DataRequest()
        header = _header_of(self.raw)
        if header is not None:
            reply.header.CopyFrom(header)
        reply.set_error(str(self.error), name=type(self.error).__name__)
        return reply.proto


def decode_request(raw: bytes) -> jina_pb2.DataRequestProto | Undecodable:
    try:
        return jina_pb2.DataRequestProto.FromString(raw)
    except (DecodeError, RecursionError) as exc:
        return Undecodable(raw, exc)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _header_of(raw: bytes) -> jina_pb2.HeaderProto | None:
    """Field 1 (the header) of a raw DataRequestProto, skipping the other top-level fields."""
    pos = 0
    try:
        while pos < len(raw):
            key, pos = _varint(raw, pos)
            field, wire_type = key >> 3, key & 7
            if wire_type == 2:
                size, pos = _varint(raw, pos)
                if field == 1:
                    return jina_pb2.HeaderProto.FromString(raw[pos:pos + size])
                pos += size
            elif wire_type == 0:
                _, pos = _varint(raw, pos)
            elif wire_type in (1, 5):
                pos += 8 if wire_type == 1 else 4
            else:
                return None
    except (IndexError, DecodeError):
        return None
    return None
