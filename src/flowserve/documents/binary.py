"""DocumentArray bytes and files in docarray v1's ``protobuf-array`` format.

``to_bytes``/``save_binary`` write one serialized ``docarray.DocumentArrayProto``, optionally
compressed; with ``compress=None`` this is byte-compatible with docarray 0.21's
``to_bytes(protocol='protobuf-array')`` and ``save_binary(..., protocol='protobuf-array')``.
docarray's pickle protocols are refused: unpickling runs arbitrary code, and a pickle of
docarray objects would not load here anyway.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .array import DocumentArray

__all__ = ["compress_bytes", "decompress_bytes", "load_binary", "save_binary"]

_CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zlib": (zlib.compress, zlib.decompress),
    "gzip": (gzip.compress, gzip.decompress),
    "bz2": (bz2.compress, bz2.decompress),
    "lzma": (lzma.compress, lzma.decompress),
}
_PROTOCOLS = ("protobuf-array",)


def check_protocol(protocol: str) -> None:
    """Raise ValueError unless `protocol` is one this module writes and reads."""
    if protocol not in _PROTOCOLS:
        raise ValueError(
            f"protocol {protocol!r} is not supported; flowserve reads and writes "
            f"'protobuf-array' (docarray's pickle protocols are unsafe to load)"
        )


def _codec(compress: str | None) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    try:
        return _CODECS[compress or ""]
    except KeyError:
        raise ValueError(
            f"unknown compression {compress!r}; use one of {sorted(_CODECS)} or None"
        ) from None


def compress_bytes(data: bytes, compress: str | None) -> bytes:
    """`data` compressed with `compress` (None: as is)."""
    return data if compress is None else _codec(compress)[0](data)


def decompress_bytes(data: bytes, compress: str | None) -> bytes:
    """The inverse of :func:`compress_bytes`."""
    return data if compress is None else _codec(compress)[1](data)


def save_binary(da: DocumentArray, file: str | os.PathLike[str] | IO[bytes], *,
                protocol: str = "protobuf-array", compress: str | None = None) -> None:
    """Write ``da.to_bytes(...)`` to a path or a binary file object."""
    data = da.to_bytes(protocol=protocol, compress=compress)
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as fp:
            fp.write(data)
    else:
        file.write(data)


def load_binary(file: str | os.PathLike[str] | IO[bytes] | bytes, *,
                protocol: str = "protobuf-array", compress: str | None = None) -> DocumentArray:
    """Read what :func:`save_binary` wrote (a path, a binary file object or the bytes)."""
    from .array import DocumentArray

    if isinstance(file, bytes):
        data = file
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as fp:
            data = fp.read()
    else:
        data = file.read()
    return DocumentArray.from_bytes(data, protocol=protocol, compress=compress)
