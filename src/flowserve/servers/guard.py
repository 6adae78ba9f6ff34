"""Refuse to start a Flow while an executor process imports the user's code.

An executor defined in the user's script is found, in its own process, by importing that
script again. A script that starts its Flow at import time (no ``if __name__ ==
"__main__":``) would then start a Flow in every executor process, each starting more, without
end. While an executor process loads its class (import and ``__init__``), starting a Flow
fails at once with an error that says what to change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import FlowStartError

__all__ = ["check_flow_start_allowed", "loading_executor"]

_loading: list[str] = []  # the `uses` being loaded by this (executor) process


@contextlib.contextmanager
def loading_executor(uses: str | None) -> Iterator[None]:
    """Mark the import and construction of an executor's class (in an executor process)."""
    _loading.append(uses or "executor")
    try:
        yield
    finally:
        _loading.pop()


def check_flow_start_allowed() -> None:
    """Raise FlowStartError when called while an executor process loads its class."""
    if _loading:
        raise FlowStartError(
            f"a Flow was started while an executor process imported {_loading[-1]!r}: the "
            "script starts its Flow when imported. Executor processes import the script to "
            "find the executor class, so put the code that starts the Flow under "
            "`if __name__ == \"__main__\":`")
