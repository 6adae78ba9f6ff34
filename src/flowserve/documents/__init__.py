"""The document model: `Document`, `DocumentArray`, their ndarray fields and the protobuf and
JSON codecs (Jina 3 / docarray 0.x compatible)."""
