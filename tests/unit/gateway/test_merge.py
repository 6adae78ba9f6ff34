"""Three-way merging of fan-in branches."""

from __future__ import annotations

import numpy as np

from flowserve import Document, DocumentArray
from flowserve.gateway.merge import merge_arrays, merge_parameters, merge_requests
from flowserve.wire.request import DataRequest


def base_docs() -> DocumentArray:
    return DocumentArray([
        Document(id="a", text="orig", tags={"k": 1.0}, matches=[Document(id="m1")]),
        Document(id="b", text="orig-b"),
    ])


def branch(changes) -> DocumentArray:
    docs = DocumentArray(d.copy() for d in base_docs())
    changes(docs)
    return docs


def test_each_branch_keeps_its_changes_and_untouched_fields_do_not_override():
    left = branch(lambda d: setattr(d["a"], "text", "left"))

    def right_change(d):
        d["a"].embedding = np.ones(2, dtype=np.float32)
        d["a"].tags["r"] = "yes"
        d["a"].matches.append(Document(id="m2"))

    right = branch(right_change)
    merged = DocumentArray(d.copy() for d in left)
    merge_arrays(merged, right, base_docs())
    a = merged["a"]
    assert a.text == "left"
    assert a.embedding.tolist() == [1.0, 1.0]
    assert a.tags == {"k": 1.0, "r": "yes"}
    assert a.matches.ids == ["m1", "m2"]
    assert merged.ids == ["a", "b"]


def test_docs_added_by_a_branch_are_appended_and_conflicts_go_to_the_later_branch():
    left = branch(lambda d: setattr(d["b"], "text", "L"))

    def right_change(d):
        d["b"].text = "R"
        d.append(Document(id="c", text="new"))

    merged = DocumentArray(d.copy() for d in left)
    merge_arrays(merged, branch(right_change), base_docs())
    assert merged.ids == ["a", "b", "c"]
    assert merged["b"].text == "R"


def test_merge_requests_unites_results_and_keeps_the_first_header():
    r1 = DataRequest.new(base_docs(), endpoint="/x", parameters={"__results__": {"e1": {"n": 1}}})
    r2 = DataRequest.new(base_docs(), endpoint="/y", parameters={"__results__": {"e2": {"n": 2}}})
    merged = merge_requests([r1, r2], DataRequest.new(base_docs()))
    assert merged.endpoint == "/x"
    assert merged.parameters["__results__"] == {"e1": {"n": 1.0}, "e2": {"n": 2.0}}
    assert merge_parameters([{"p": 1}, {"p": 2}]) == {"p": 2}
