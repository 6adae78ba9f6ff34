"""How a response says that an executor answered it only after a retry (docs/protocol.md).

The executor's route (``routes[k]``, one per executor visited) then carries a status whose code
is ``SUCCESS`` and whose description reads::

    retried: 2 attempts; executor 'encoder' at 10.0.0.7:8081 failed: UNAVAILABLE Socket closed

When the executor's code failed on the retry, its route keeps the error status (``ERROR``, the
exception) and its description ends with the same words after ``"; "``::

    boom; retried: 2 attempts; executor 'encoder' at 10.0.0.7:8081 failed: UNAVAILABLE ...

Only fields Jina's protocol already has are used, so Jina clients parse such responses as
before (and show the route as succeeded, or failed with the executor's error). The gateway
writes it, clients read it back with `retried_in`; HTTP responses also summarize it in the
``X-Flowserve-Retried`` header (`retried_header`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..proto import jina_pb2
from .names import RETRIED_HEADER

__all__ = ["PREFIX", "Retried", "mark_retried", "retried_header", "retried_in",
           "retried_status"]

PREFIX = "retried: "
_DESCRIPTION = re.compile(r"retried: (\d+) attempts(?:; (.*))?\Z", re.DOTALL)


@dataclass(frozen=True)
class Retried:
    """An executor that answered a request only after it was retried on another replica."""

    executor: str
    attempts: int
    """Attempts made, the successful one included (2 after one retry)."""
    reasons: str = ""
    """Why the earlier attempts failed, as the gateway saw it."""


def _words(attempts: int, reasons: Sequence[str]) -> str:
    description = f"{PREFIX}{attempts} attempts"
    if reasons:
        description += "; " + "; ".join(reasons)
    return description


def retried_status(attempts: int, reasons: Sequence[str]) -> jina_pb2.StatusProto:
    """The route status of an executor that answered after `attempts` attempts."""
    return jina_pb2.StatusProto(code=jina_pb2.StatusProto.SUCCESS,
                                description=_words(attempts, reasons))


def mark_retried(status: jina_pb2.StatusProto, attempts: int, reasons: Sequence[str]) -> None:
    """Say in an executor's error `status` (its route's) that the failing attempt was a retry:
    the retried words after its description."""
    status.description = f"{status.description}; {_words(attempts, reasons)}"


def retried_in(routes: Iterable[Any]) -> tuple[Retried, ...]:
    """The executors of a response's `routes` that answered (or failed) only after a retry."""
    found = []
    for route in routes:
        status = route.status
        text = status.description
        if not text:  # most routes: nothing to read
            continue
        if status.code != jina_pb2.StatusProto.SUCCESS:  # the words after the error's own
            at = text.rfind("; " + PREFIX)
            text = text[at + 2:] if at >= 0 else ""
        match = _DESCRIPTION.match(text)
        if match is not None:
            found.append(Retried(route.executor, int(match[1]), match[2] or ""))
    return tuple(found)


def retried_header(routes: Iterable[Any]) -> dict[str, str]:
    """HTTP headers summarizing `retried_in(routes)`: ``X-Flowserve-Retried: encoder=2``
    (comma-separated when several executors retried); none when nothing was retried."""
    retried = retried_in(routes)
    if not retried:
        return {}
    return {RETRIED_HEADER: ", ".join(f"{r.executor}={r.attempts}" for r in retried)}
