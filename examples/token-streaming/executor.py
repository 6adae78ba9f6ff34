"""A token-streaming generator: a stand-in for a language model that writes its answer one
token at a time. No model to download: it "generates" a reply built from the prompt's words,
yielding each word as a Document after `token_ms` milliseconds (a model's time per token)."""

from __future__ import annotations

import asyncio

from flowserve import Document, Executor, requests


class TokenStreamer(Executor):
    def __init__(self, token_ms: float = 50.0, **kwargs):
        super().__init__(**kwargs)
        self.token_s = token_ms / 1000

    @requests(on="/generate")
    async def generate(self, doc: Document, parameters: dict, **kwargs):
        """Yield the reply to ``doc.text`` word by word; ``parameters['max_tokens']`` caps it."""
        words = (doc.text or "").split() or ["(silence)"]
        reply = ["You", "said:", *words, "-", "that", "is", f"{len(words)}", "words."]
        limit = int(parameters.get("max_tokens", len(reply)))
        for i, token in enumerate(reply[:limit]):
            await asyncio.sleep(self.token_s)  # the model computes the next token
            yield Document(text=token, tags={"index": i})
