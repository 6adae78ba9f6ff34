"""Several observers behind one: the gateway core takes a single one."""

from __future__ import annotations

from collections.abc import Sequence

from ..gateway.observer import NullObserver, Observer

__all__ = ["fanout"]


class _Fanout:
    """Calls every observer in turn (each must be cheap and must not raise)."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = list(observers)
        self.wants_sizes = any(o.wants_sizes for o in self.observers)

    def request_started(self, *, endpoint: str, client: str, request_id: str,
                        origin: object = None) -> None:
        for o in self.observers:
            o.request_started(endpoint=endpoint, client=client, request_id=request_id,
                              origin=origin)

    def request_finished(self, *, endpoint: str, outcome: str, seconds: float,
                         error: BaseException | None = None) -> None:
        for o in self.observers:
            o.request_finished(endpoint=endpoint, outcome=outcome, seconds=seconds, error=error)

    def queue_wait(self, *, executor: str, seconds: float) -> None:
        for o in self.observers:
            o.queue_wait(executor=executor, seconds=seconds)

    def executor_call(self, *, executor: str, replica: str, endpoint: str, outcome: str,
                      seconds: float, request_bytes: int, response_bytes: int,
                      docs: int) -> None:
        for o in self.observers:
            o.executor_call(executor=executor, replica=replica, endpoint=endpoint,
                            outcome=outcome, seconds=seconds, request_bytes=request_bytes,
                            response_bytes=response_bytes, docs=docs)


def fanout(*observers: Observer | None) -> Observer | None:
    """One observer for all given (None entries dropped); None when there are none."""
    present = [o for o in observers if o is not None and not isinstance(o, NullObserver)]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return _Fanout(present)
