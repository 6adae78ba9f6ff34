"""The handler timeout's default and its `flowserve executor` flag, shared by the schema, the
worker, the local runtime and the Kubernetes export."""

from __future__ import annotations

__all__ = ["DEFAULT_TIMEOUT_HANDLER", "timeout_handler_argv"]

DEFAULT_TIMEOUT_HANDLER = 600.0
"""Seconds one handler call may take by default (`timeout_handler`)."""


def timeout_handler_argv(timeout: float | None) -> list[str]:
    """`--timeout-handler` when not the default (0: no limit)."""
    if timeout == DEFAULT_TIMEOUT_HANDLER:
        return []
    return ["--timeout-handler", f"{timeout or 0:g}"]
