"""The `flowserve executor` flags that come from an executor's spec, shared by a local Flow's
processes (`local.local_flow`) and the exported containers (`export._commands`), so that both
start the same executor."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .options import EXECUTOR_DEFAULTS
from .worker_flags import timeout_handler_argv

if TYPE_CHECKING:
    from .spec import ExecutorSpec

__all__ = ["executor_spec_argv"]


def _json(value: Any, executor: str, key: str) -> str:
    """Compact, with sorted keys (an exported manifest must not change between runs)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"executor {executor!r}: {key} must be JSON-serialisable to reach "
                          f"its process: {exc}") from None


def executor_spec_argv(ex: ExecutorSpec, *, uses_with: Mapping[str, Any] | None,
                       uses_metas: Mapping[str, Any] | None,
                       py_modules: Sequence[str]) -> list[str]:
    """`ex`'s flags: its `uses_with` and `uses_metas` (as resolved for where it runs),
    `uses_requests`, `uses_dynamic_batching`, `py_modules`, and the settings that differ from
    the defaults (`sync_handlers`, `timeout_handler`, `workspace`). Raises ConfigError naming
    the executor and key for a value JSON cannot carry."""
    args: list[str] = []
    if uses_with:
        args += ["--uses-with", _json(uses_with, ex.name, "uses_with")]
    if uses_metas:
        args += ["--uses-metas", _json(uses_metas, ex.name, "uses_metas")]
    if ex.uses_requests:
        args += ["--uses-requests", _json(ex.uses_requests, ex.name, "uses_requests")]
    if ex.uses_dynamic_batching:
        args += ["--uses-dynamic-batching", _json(
            {e: b.model_dump() for e, b in ex.uses_dynamic_batching.items()}, ex.name,
            "uses_dynamic_batching")]
    if py_modules:
        args += ["--py-modules", *py_modules]
    if ex.sync_handlers != EXECUTOR_DEFAULTS.sync_handlers:
        args += ["--sync-handlers", ex.sync_handlers]
    args += timeout_handler_argv(ex.timeout_handler)
    if ex.workspace:
        args += ["--workspace", ex.workspace]
    return args
