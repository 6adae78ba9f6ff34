"""What it took to get one executor's reply: the retries made and why the attempts before them
failed. `ReplicaSet.send` fills it in; the gateway core marks the executor's route with it
when the reply came only after a retry (`wire.retried`)."""

from __future__ import annotations

from ..proto import jina_pb2
from ..wire.retried import mark_retried, retried_status

__all__ = ["Attempts"]


class Attempts:
    """The retries of one request at one executor (all its shards together)."""

    __slots__ = ("reasons",)

    def __init__(self) -> None:
        self.reasons: list[str] = []
        """Why each retried attempt failed, in order (one per retry)."""

    def retrying(self, reason: BaseException) -> None:
        """Count one retry, after an attempt that failed with `reason`."""
        self.reasons.append(str(reason))

    @property
    def count(self) -> int:
        """Attempts made: the first one plus one per retry."""
        return 1 + len(self.reasons)

    def status(self) -> jina_pb2.StatusProto | None:
        """The route status saying the reply came after a retry; None if it did not."""
        return retried_status(self.count, self.reasons) if self.reasons else None

    def mark(self, error: jina_pb2.StatusProto) -> None:
        """Say in an error reply's route `error` status that it came after a retry, if so."""
        if self.reasons:
            mark_retried(error, self.count, self.reasons)
