"""Jina 3 Flow YAML habits, translated before validation.

- Keys that change nothing in flowserve (``install_requirements``, ``quiet``, ...) are dropped
  with a :class:`JinaKeyWarning` instead of failing as unknown keys.
- The dict form of ``uses`` (``uses: {jtype: MyExecutor, with: {...}, metas: {...},
  requests: {...}}``) becomes ``uses``, ``uses_with``, ``uses_metas`` and ``uses_requests``;
  the executor's own ``uses_*`` keys win, as they do over an executor YAML file.

Pure data -> data, apart from the warnings.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["IGNORED_EXECUTOR_KEYS", "IGNORED_FLOW_KEYS", "JinaKeyWarning", "executor_keys",
           "flow_keys"]


class JinaKeyWarning(UserWarning):
    """A Jina key that flowserve accepts and ignores."""


_COMMON = {
    "quiet": "flowserve logs through `logging`; set --log-level",
    "quiet_error": "flowserve logs through `logging`; set --log-level",
    "log_config": "flowserve logs through `logging`; set --log-level",
    "grpc_server_options": "flowserve sets its own gRPC server options",
    "timeout_ctrl": "flowserve has no control requests",
    "reload": "restart the Flow to load new code",
    "install_requirements": "install the executor's requirements in your environment or image",
}
IGNORED_FLOW_KEYS: Mapping[str, str] = {
    **_COMMON,
    "title": "the OpenAPI title is fixed",
    "description": "the OpenAPI description is fixed",
    "no_debug_endpoints": "the gateway serves /status and /dry_run always",
    "no_crud_endpoints": "flowserve has no CRUD endpoints",
    "uvicorn_kwargs": "flowserve runs uvicorn with its own settings",
}
IGNORED_EXECUTOR_KEYS: Mapping[str, str] = {
    **_COMMON,
    "force_update": "flowserve does not pull from Jina Hub",
    "upload_files": "flowserve does not upload files to Jina Hub",
    "exit_on_exceptions": "a failing handler answers with an error; the replica keeps serving",
    "no_reduce": "flowserve always merges the outputs of joined branches",
    "disable_reduce": "flowserve always merges the outputs of joined branches",
    "output_array_type": "arrays travel in their own dtype",
    "floating": "floating executors are not supported; the key is ignored",
}
_USES_DICT_KEYS = {"jtype": "uses", "with": "uses_with", "metas": "uses_metas",
                   "requests": "uses_requests", "py_modules": "py_modules"}


def _drop_ignored(data: dict[str, Any], ignored: Mapping[str, str], who: str) -> dict[str, Any]:
    found = [k for k in data if k in ignored]
    for key in found:
        warnings.warn(f"{who}: Jina key {key!r} is ignored by flowserve ({ignored[key]})",
                      JinaKeyWarning, stacklevel=2)
    return {k: v for k, v in data.items() if k not in ignored} if found else data


def flow_keys(data: Any) -> Any:
    """A Flow's ``with:`` block with the ignored Jina keys dropped (warning for each)."""
    if not isinstance(data, Mapping):
        return data
    return _drop_ignored(dict(data), IGNORED_FLOW_KEYS, "with")


def executor_keys(data: Any) -> Any:
    """One ``executors:`` entry with ignored keys dropped and a dict-form ``uses`` spread out."""
    if not isinstance(data, Mapping):
        return data
    who = f"executor {data.get('name')!r}" if data.get("name") else "executor"
    data = _drop_ignored(dict(data), IGNORED_EXECUTOR_KEYS, who)
    uses = data.get("uses")
    if not isinstance(uses, Mapping):
        return data
    unknown = [k for k in uses if k not in _USES_DICT_KEYS]
    if unknown:
        raise ValueError(f"uses: unknown key {unknown[0]!r} in its dict form (expected "
                         f"{', '.join(_USES_DICT_KEYS)})")
    out = {k: v for k, v in data.items() if k != "uses"}
    for key, field in _USES_DICT_KEYS.items():
        if key not in uses or uses[key] is None:
            continue
        value = uses[key]
        mine = out.get(field)
        if field == "uses":
            out[field] = value
        elif field == "py_modules":
            listed = [value] if isinstance(value, str) else list(value)
            extra = [mine] if isinstance(mine, str) else list(mine or [])
            out[field] = [*listed, *extra]
        elif isinstance(value, Mapping) and isinstance(mine, Mapping | None):
            out[field] = {**value, **(mine or {})}  # the executor's own keys win
        else:
            out[field] = value if mine is None else mine
    return out
