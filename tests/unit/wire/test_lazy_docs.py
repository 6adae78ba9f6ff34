"""Docs read from the wire are decoded only when used; untouched, they pass through as is."""

from __future__ import annotations

import numpy as np

from flowserve import Document, DocumentArray
from flowserve.wire.request import DataRequest


def wire_request() -> DataRequest:
    docs = DocumentArray(Document(id=f"d{i}", embedding=np.arange(4, dtype=np.float32))
                         for i in range(3))
    return DataRequest(DataRequest.new(docs).to_bytes())


def test_untouched_docs_are_not_decoded_and_encode_to_the_same_message():
    request = wire_request()
    docs = request.docs
    assert len(docs) == 3 and not docs.is_decoded  # len does not decode
    assert docs.to_protobuf() is request.proto.data.docs
    assert not docs.is_decoded


def test_touched_docs_are_decoded_and_changes_are_encoded():
    request = wire_request()
    request.docs[1].text = "changed"
    assert request.docs.is_decoded
    again = DataRequest(request.to_bytes())
    assert again.docs[1].text == "changed"
    assert again.docs.embeddings.shape == (3, 4)


def test_lazy_docs_moved_to_another_request_are_copied_not_aliased():
    source = wire_request()
    target = DataRequest.new(DocumentArray())
    target.docs = source.docs
    assert DataRequest(target.to_bytes()).docs.ids == ["d0", "d1", "d2"]


def test_bytes_round_trip_of_an_untouched_array_does_not_decode_it():
    data = wire_request().docs.to_bytes()
    docs = DocumentArray.from_bytes(data)
    assert len(docs) == 3 and not docs.is_decoded
    assert docs.to_bytes() == data and not docs.is_decoded
    assert docs.ids == ["d0", "d1", "d2"]  # and it decodes on first use
