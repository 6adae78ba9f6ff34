"""Merging the outputs of several executors where branches of the DAG join (fan-in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..docarray import reduce_all
from ..request import DataRequest

__all__ = ["merge_parameters", "merge_requests"]


def merge_parameters(params: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Later branches win on plain keys; `__results__` per executor are united."""
    merged: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for p in params:
        for key, value in p.items():
            if key == "__results__" and isinstance(value, dict):
                results.update(value)
            else:
                merged[key] = value
    if results:
        merged["__results__"] = results
    return merged


def merge_requests(requests: Sequence[DataRequest]) -> DataRequest:
    """One request whose docs are the branches' docs merged by id (first branch's order)."""
    if len(requests) == 1:
        return requests[0]
    base = DataRequest()
    base.proto.header.CopyFrom(requests[0].proto.header)
    base.docs = reduce_all([r.docs for r in requests])
    params = merge_parameters([r.parameters for r in requests])
    if params:
        base.parameters = params
    return base
