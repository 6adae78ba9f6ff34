"""Hypothesis strategies for documents and arrays, shared by the codec tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from flowserve.documents.document import Document, NamedScore

NUMERIC_DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
]  # fmt: skip
# uint64 is left out of JSON: values past int64 have no dtype-free JSON spelling.
JSON_DTYPES = [d for d in NUMERIC_DTYPES if d != "uint64"]

# Protobuf `float` fields (weight, offset, location, score values) hold float32 values.
float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
names = st.text(max_size=8)
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)  # Struct numbers are float64: exact up to 2**53
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(names, json_values, max_size=4)


def arrays(dtypes: list[str], min_side: int = 0) -> st.SearchStrategy[np.ndarray]:
    def for_dtype(name: str) -> st.SearchStrategy[np.ndarray]:
        dtype = np.dtype(name)
        extra: dict[str, Any] = {}
        if dtype.kind == "f":
            extra = {"allow_nan": False, "allow_infinity": False}
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=min_side, max_side=4)
        return hnp.arrays(dtype, shapes, elements=hnp.from_dtype(dtype, **extra))

    return st.sampled_from(dtypes).flatmap(for_dtype)


scores = st.dictionaries(
    names,
    st.builds(NamedScore, value=float32s, op_name=names, description=names, ref_id=names),
    max_size=2,
)


def documents(array_strategy: st.SearchStrategy[np.ndarray], depth: int = 2) -> Any:
    children = (
        st.just([]) if depth == 0 else st.lists(documents(array_strategy, depth - 1), max_size=2)
    )
    content = st.one_of(
        st.just({}),
        st.builds(lambda t: {"text": t}, st.text(max_size=20)),
        st.builds(lambda b: {"blob": b}, st.binary(max_size=20)),
        st.builds(lambda a: {"tensor": a}, array_strategy),
    )

    def build(
        fields: dict[str, Any], content: dict[str, Any], metadata: dict[str, Any]
    ) -> Document:
        doc = Document(**fields, **content)
        doc._metadata = metadata or None
        return doc

    fields = st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=12)},
        optional={
            "embedding": array_strategy,
            "uri": st.text(max_size=10),
            "mime_type": st.text(max_size=10),
            "modality": st.text(max_size=5),
            "parent_id": st.text(max_size=5),
            "tags": json_objects,
            "chunks": children,
            "matches": children,
            "scores": scores,
            "evaluations": scores,
            "granularity": st.integers(0, 2**32 - 1),
            "adjacency": st.integers(0, 2**32 - 1),
            "weight": float32s,
            "offset": float32s,
            "location": st.lists(float32s, max_size=3),
        },
    )
    return st.builds(build, fields, content, json_objects)


ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
