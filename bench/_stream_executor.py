"""The executor of bench/streaming.py: a streaming endpoint yielding `n` documents at once,
and a no-op post endpoint to compare with."""

from __future__ import annotations

from typing import Any

from flowserve import Document, Executor, requests


class StreamExecutor(Executor):
    @requests(on="/stream")
    async def stream(self, doc: Document, parameters: dict[str, Any], **kwargs: Any):
        for i in range(int(parameters.get("n", 1))):
            yield Document(text=doc.text, tags={"i": i})

    @requests(on="/post")
    def post(self, docs: Any, **kwargs: Any) -> None:
        return None
