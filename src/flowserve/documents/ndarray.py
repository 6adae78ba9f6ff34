"""numpy arrays <-> ``docarray.NdArray`` protobuf messages.

Encoding is always dense: ``DenseNdArray(buffer=array.tobytes(), shape=..., dtype=dtype.str)``
with ``cls_name='numpy'``. ``tobytes()`` writes C order whatever the array's layout, so
non-contiguous views need no special handling.

Decoding a dense array is zero-copy: the result is ``np.frombuffer(buffer)`` reshaped, a
**read-only** view of the bytes object protobuf hands out. Sparse arrays (docarray v1 COO layout:
``indices`` of shape ``(nnz, ndim)``, ``(ndim, nnz)`` also accepted, ``values`` of shape
``(nnz,)``) are decoded into a dense, writable array; duplicate coordinates are summed.

Accepted dtypes are the fixed-size, pointer-free kinds: bool, signed/unsigned ints, floats,
complex, datetime/timedelta and fixed-width bytes/str. Object and structured dtypes are refused.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import BadRequestError
from ..proto import docarray_pb2

__all__ = [
    "MAX_SPARSE_DENSE_BYTES",
    "dense_from_proto",
    "ndarray_from_proto",
    "ndarray_to_proto",
    "sparse_from_proto",
]

# A sparse array is densified on decode; refuse shapes whose dense form would be absurd.
MAX_SPARSE_DENSE_BYTES = 1 << 30

_KINDS = frozenset("biufcmMSU")
_NUMERIC_KINDS = frozenset("biufc")
_CACHE_LIMIT = 128
# dtype.str and np.dtype(str) cost more than a dict lookup; both caches hold only accepted
# dtypes, of which there are few spellings, and are bounded regardless.
_DTYPE_TO_STR: dict[np.dtype, str] = {}
_STR_TO_DTYPE: dict[str, np.dtype] = {}


def ndarray_to_proto(array: np.ndarray, pb: docarray_pb2.NdArray) -> None:
    """Fill ``pb`` (normally a fresh submessage) with ``array`` as a dense numpy NdArray.

    Raises TypeError for object or structured arrays, which have no portable byte form.
    """
    dtype = array.dtype
    dtype_str = _DTYPE_TO_STR.get(dtype)
    if dtype_str is None:
        dtype_str = _encodable_dtype_str(dtype)
    pb.cls_name = "numpy"
    dense = pb.dense
    dense.buffer = array.tobytes()
    dense.shape.extend(array.shape)
    dense.dtype = dtype_str


def ndarray_from_proto(pb: docarray_pb2.NdArray) -> np.ndarray | None:
    """Decode an NdArray message; None if neither ``dense`` nor ``sparse`` is set.

    Dense content decodes to a read-only zero-copy view; sparse content to a dense array.
    Malformed content raises BadRequestError.
    """
    which = pb.WhichOneof("content")
    if which == "dense":
        # dense_from_proto inlined: this runs once per embedding on the hot path.
        dense = pb.dense
        dtype_str = dense.dtype
        dtype = _STR_TO_DTYPE.get(dtype_str)
        if dtype is None:
            dtype = _decodable_dtype(dtype_str)
        buffer = dense.buffer
        shape = dense.shape[:]
        try:
            return np.frombuffer(buffer, dtype=dtype).reshape(shape)
        except ValueError:
            raise _bad_dense(buffer, shape, dtype_str) from None
    if which == "sparse":
        return sparse_from_proto(pb.sparse)
    return None


def dense_from_proto(pb: docarray_pb2.DenseNdArray) -> np.ndarray:
    """Decode a DenseNdArray: ``np.frombuffer(buffer, dtype).reshape(shape)``, read-only."""
    dtype_str = pb.dtype
    dtype = _STR_TO_DTYPE.get(dtype_str)
    if dtype is None:
        dtype = _decodable_dtype(dtype_str)
    buffer = pb.buffer
    shape = pb.shape[:]
    try:
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)
    except ValueError:
        raise _bad_dense(buffer, shape, dtype_str) from None


def _bad_dense(buffer: bytes, shape: list[int], dtype_str: str) -> BadRequestError:
    return BadRequestError(
        f"invalid NdArray: {len(buffer)} bytes do not hold an array of "
        f"shape {tuple(shape)} and dtype {dtype_str!r}"
    )


def sparse_from_proto(pb: docarray_pb2.SparseNdArray) -> np.ndarray:
    """Decode a COO SparseNdArray into a dense array (duplicates summed).

    ``indices`` may be ``(nnz, ndim)`` (docarray v1) or ``(ndim, nnz)``; when both readings
    fit (nnz == ndim) the v1 layout is used. A 1-d ``indices`` is accepted for 1-d shapes.
    """
    shape = tuple(pb.shape)
    ndim = len(shape)
    if ndim == 0:
        raise BadRequestError("invalid sparse NdArray: empty shape")
    values = dense_from_proto(pb.values).reshape(-1)
    indices = dense_from_proto(pb.indices)
    if values.dtype.kind not in _NUMERIC_KINDS or indices.dtype.kind not in "iu":
        raise BadRequestError(
            f"invalid sparse NdArray: indices must be integers and values numeric, "
            f"got {indices.dtype} and {values.dtype}"
        )
    nnz = values.size
    if indices.ndim == 2 and indices.shape == (nnz, ndim):
        coords = indices.T
    elif indices.ndim == 2 and indices.shape == (ndim, nnz):
        coords = indices
    elif indices.ndim == 1 and ndim == 1 and indices.size == nnz:
        coords = indices.reshape(1, nnz)
    else:
        raise BadRequestError(
            f"invalid sparse NdArray: indices of shape {indices.shape} do not match "
            f"{nnz} values in {ndim} dimensions"
        )
    if math.prod(shape) * values.dtype.itemsize > MAX_SPARSE_DENSE_BYTES:
        raise BadRequestError(f"sparse NdArray of shape {shape} is too large to densify")
    if nnz and (
        (coords < 0).any() or (coords.max(axis=1) >= np.asarray(shape, dtype=np.int64)).any()
    ):
        raise BadRequestError(f"invalid sparse NdArray: index out of bounds for shape {shape}")
    dense = np.zeros(shape, dtype=values.dtype)
    np.add.at(dense, tuple(coords.astype(np.intp, copy=False)), values)
    return dense


def _encodable_dtype_str(dtype: np.dtype) -> str:
    if dtype.kind not in _KINDS or dtype.fields is not None:
        raise TypeError(f"cannot encode a numpy array of dtype {dtype} as NdArray")
    dtype_str = dtype.str
    if len(_DTYPE_TO_STR) < _CACHE_LIMIT:
        _DTYPE_TO_STR[dtype] = dtype_str
    return dtype_str


def _decodable_dtype(dtype_str: str) -> np.dtype:
    try:
        dtype = np.dtype(dtype_str)
    except (TypeError, ValueError):
        raise BadRequestError(f"invalid NdArray dtype {dtype_str!r}") from None
    if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise BadRequestError(f"unsupported NdArray dtype {dtype_str!r}")
    if dtype.itemsize == 0:
        raise BadRequestError(f"unsupported NdArray dtype {dtype_str!r} (zero-size items)")
    if len(_STR_TO_DTYPE) < _CACHE_LIMIT:
        _STR_TO_DTYPE[dtype_str] = dtype
    return dtype
