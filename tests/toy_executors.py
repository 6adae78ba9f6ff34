"""Toy executors shared by the tests (importable as `toy_executors` by test processes and by
the executor processes they start, which inherit the test's sys.path)."""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np

from flowserve import Document, DocumentArray, Executor, dynamic_batching, requests


class NoOp(Executor):
    """Returns the docs unchanged."""

    @requests
    def noop(self, docs, **kwargs):
        return None


class AppendText(Executor):
    """Appends its `suffix` to each doc's text; on /tag it tags docs instead."""

    def __init__(self, suffix: str = "!", **kwargs):
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    def append(self, docs, parameters, **kwargs):
        for d in docs:
            d.text = (d.text or "") + self.suffix

    @requests(on=["/tag", "/label"])
    def tag(self, docs, **kwargs):
        for d in docs:
            d.tags[self.name] = self.suffix


class TagByReplica(Executor):
    """Records which replica (pid) handled each doc."""

    @requests
    def mark(self, docs, **kwargs):
        for d in docs:
            d.tags["pid"] = float(os.getpid())
            d.tags["replica"] = float(self.runtime_args.replica_id)


class Embed(Executor):
    """Adds an `n_dim` float32 embedding to every doc (vectorised)."""

    def __init__(self, n_dim: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.n_dim = n_dim

    @requests
    def embed(self, docs, **kwargs):
        docs.embeddings = np.ones((len(docs), self.n_dim), dtype=np.float32)


class Raises(Executor):
    """Raises on docs whose text is 'boom'; passes others."""

    @requests
    def maybe_fail(self, docs, **kwargs):
        if any((d.text or "").startswith("boom") for d in docs):
            raise ValueError("boom", 42)


class ReturnsDict(Executor):
    """Returns a dict of statistics (goes to parameters['__results__'][name])."""

    @requests(on="/stats")
    def stats(self, docs, parameters, **kwargs):
        return {"count": len(docs), "echo": parameters.get("x")}


class ReturnsNewDocs(Executor):
    """Replaces the docs by a new DocumentArray."""

    @requests
    def replace(self, docs, **kwargs):
        from flowserve import Document

        return DocumentArray([Document(id=f"new-{d.id}", text="new") for d in docs])


class AsyncSleep(Executor):
    """An async handler that sleeps `delay` seconds."""

    def __init__(self, delay: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    @requests
    async def wait(self, docs, **kwargs):
        await asyncio.sleep(self.delay)
        for d in docs:
            d.tags["async"] = True


class Slow(Executor):
    """Blocks `delay` seconds per request (like the demo's slow executor)."""

    def __init__(self, delay: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    @requests
    def slow(self, docs, **kwargs):
        time.sleep(self.delay)


class SlowOnReplicaZero(Executor):
    """Replica 0 takes `slow` seconds per request, the others `fast`; tags the replica."""

    def __init__(self, slow: float = 0.2, fast: float = 0.005, **kwargs):
        super().__init__(**kwargs)
        self.delay = slow if self.runtime_args.replica_id == 0 else fast

    @requests
    def work(self, docs, **kwargs):
        time.sleep(self.delay)
        for d in docs:
            d.tags["replica"] = float(self.runtime_args.replica_id)


class ShardMatcher(Executor):
    """Adds one match per doc, scored by shard id, so merged results show every shard."""

    @requests
    def match(self, docs, **kwargs):
        from flowserve import Document

        shard = self.runtime_args.shard_id
        for d in docs:
            m = Document(id=f"{d.id}-shard{shard}")
            m.scores["score"] = float(shard)
            d.matches.append(m)
            d.tags["shard"] = float(shard)


def chain_flow(protocol: str | list[str], n_dim: int = 16):
    """The Flow several integration tests serve: first (AppendText '-a') -> second (Embed
    `n_dim`) -> stats (ReturnsDict) -> fails (Raises on text 'boom')."""
    from flowserve import Flow

    return (
        Flow(protocol=protocol)
        .add(name="first", uses=AppendText, uses_with={"suffix": "-a"})
        .add(name="second", uses=Embed, uses_with={"n_dim": n_dim})
        .add(name="stats", uses=ReturnsDict)
        .add(name="fails", uses=Raises)
    )


class BatchedModel(Executor):
    """A model batched on /embed (8 docs per call, waiting at most 50 ms, unless the Flow's
    ``uses_dynamic_batching`` says otherwise): each call costs `fixed` seconds plus `per_doc`
    per doc; each doc's text gets the `prefix` parameter and its tags the size of the call it
    was in. ``parameters={'fail': True}`` raises."""

    def __init__(self, fixed: float = 0.02, per_doc: float = 0.0001, **kwargs):
        super().__init__(**kwargs)
        self.fixed = fixed
        self.per_doc = per_doc

    @dynamic_batching(preferred_batch_size=8, timeout=50)
    @requests(on="/embed")
    def embed(self, docs, parameters, **kwargs):
        if parameters.get("fail"):
            raise ValueError(f"failing a batch of {len(docs)}")
        time.sleep(self.fixed + self.per_doc * len(docs))
        for doc in docs:
            doc.text = f"{parameters.get('prefix', '')}{doc.text}"
            doc.tags["batch"] = len(docs)


class Tokens(Executor):
    """A streaming endpoint: `/generate` yields one Document per word of the input's text
    (``parameters['pause']`` seconds apart, default none; ``parameters['hold']`` seconds
    after the first word; ``parameters['before']`` seconds before it). A word ``boom``
    raises instead; a stream that ends, however it ends, appends a line (how it ended) to
    ``<marker_dir>/<tags['marker']>`` (what the tests read to see that a cancelled stream
    closed the generator here)."""

    def __init__(self, marker_dir: str = "", **kwargs):
        super().__init__(**kwargs)
        self.marker_dir = marker_dir

    @requests(on="/generate")
    async def generate(self, doc, parameters, **kwargs):
        pause = float(parameters.get("pause", 0))
        hold = float(parameters.get("hold", 0))
        outcome = "finished"
        try:
            await asyncio.sleep(float(parameters.get("before", 0)))
            for i, word in enumerate(doc.text.split()):
                if word == "boom":
                    raise ValueError(f"boom after {i} words")
                yield Document(text=word, tags={"i": i})
                await asyncio.sleep(hold if i == 0 and hold else pause)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except GeneratorExit:
            outcome = "closed"
            raise
        finally:
            self._mark(doc, outcome)

    def _mark(self, doc, outcome: str) -> None:
        """How a stream ended, appended to its marker file."""
        if self.marker_dir:
            with open(os.path.join(self.marker_dir, doc.tags.get("marker", "stream")), "a") as f:
                f.write(outcome + "\n")

    @requests(on="/generate-sync")
    def generate_sync(self, doc, parameters, **kwargs):
        """`/generate` as a plain generator: blocking pauses, on the handler thread."""
        outcome = "finished"
        try:
            for i, word in enumerate(doc.text.split()):
                if word == "boom":
                    raise ValueError(f"boom after {i} words")
                yield Document(text=word, tags={"i": i})
                time.sleep(float(parameters.get("pause", 0)))
        except GeneratorExit:
            outcome = "closed"
            raise
        finally:
            self._mark(doc, outcome)

    @requests(on="/plain")
    async def plain(self, docs, **kwargs):
        for d in docs:
            d.text = d.text + "!"
