"""The Flow configuration schema (``flow.yml``) and its loading.

Data in, validated models out: nothing here imports executors, opens sockets or starts
processes. Every problem in a file is reported at once, as one :class:`ConfigError` whose lines
name the file, the YAML line, the key path and the executor, e.g.::

    flow.yml:9: executors[1] (bulky_executor): unknown key 'uses_wth' (did you mean 'uses_with'?)

The YAML line map and the message layout live in :mod:`flowserve.config.yamlmap`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..errors import ConfigError
from ..executor import DEFAULT_BATCH_TIMEOUT_MS
from .jina_compat import executor_keys, flow_keys
from .options import GATEWAY, ExecutorOptions, GatewayOptions, Port
from .yamlmap import Loc, Problem, describe, duplicate_names, parse_yaml, problem, summary

__all__ = [
    "GATEWAY",
    "ExecutorSpec",
    "FlowSpec",
    "GatewaySpec",
    "flow_from_dict",
    "load_flow",
    "spec_to_dict",
]


_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$")

Protocol = Literal["grpc", "http", "websocket"]


def _error(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error; ``at`` in ctx extends the error's location (a key below the model)."""
    return PydanticCustomError(kind, message, ctx or None)


def _none_to(default: Any) -> Any:
    """A before-validator mapping an empty YAML value (``key:`` with nothing) to `default`."""

    def convert(value: Any) -> Any:
        return default() if value is None else value

    return convert


def _default_protocols() -> list[Protocol]:
    return ["grpc"]


def _scalar_to_list(value: Any) -> Any:
    if value is None:
        return []
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


def _env_value(value: Any) -> Any:
    if isinstance(value, bool):  # YAML `true` should reach the process as "true", not "True"
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return value  # left for pydantic to reject with its own message


def _coerce_env(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): _env_value(v) for k, v in value.items()}
    return value


class GatewaySpec(GatewayOptions):
    """The Flow's ``with:`` block: how the gateway listens and admits requests."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    port: list[Port] | None = None
    """One port per protocol; None picks free ports when the Flow starts."""
    protocol: list[Protocol] = Field(default_factory=_default_protocols)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_ready: float = Field(default=60.0, gt=0)
    """Seconds to wait for every process of the Flow to become ready."""
    uses: str | None = None
    """A custom gateway image; only used when exporting."""

    _jina = model_validator(mode="before")(flow_keys)

    _port = field_validator("port", mode="before")(
        lambda v: [v] if isinstance(v, int | str) and not isinstance(v, bool) else v
    )
    _env = field_validator("env", mode="before")(_coerce_env)

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: Any) -> Any:
        if value is None:
            return ["grpc"]
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            return [p.lower() if isinstance(p, str) else p for p in items]
        return value

    @model_validator(mode="after")
    def _ports_match_protocols(self) -> GatewaySpec:
        if not self.protocol:
            raise _error("protocol_empty", "needs at least one protocol", at=("protocol",))
        if self.port is not None:
            if len(self.port) != len(self.protocol):
                raise _error(
                    "port_count",
                    "{ports} port(s) given for {protocols} protocol(s) {names}; give one port "
                    "per protocol, in the same order",
                    at=("port",),
                    ports=len(self.port),
                    protocols=len(self.protocol),
                    names=str(self.protocol),
                )
            if len(set(self.port)) != len(self.port):
                raise _error("port_dup", "ports must be distinct, got {ports}",
                             at=("port",), ports=str(self.port))
        return self


class DynamicBatchingSpec(BaseModel):
    """One endpoint's ``uses_dynamic_batching`` entry (as ``@dynamic_batching``'s arguments;
    `timeout` in milliseconds)."""

    model_config = ConfigDict(extra="forbid")

    preferred_batch_size: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=DEFAULT_BATCH_TIMEOUT_MS, ge=0)


class ExecutorSpec(ExecutorOptions):
    """One entry of the Flow's ``executors:`` list."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str
    uses: str | type | None = None
    """``'module:Class'``, ``'file.py:Class'``, ``'Class'`` (in py_modules), ``'exec.yml'``, an
    Executor subclass (Python API), or None for the base Executor (a pass-through)."""
    py_modules: list[str] = Field(default_factory=list)
    uses_with: dict[str, Any] = Field(default_factory=dict)
    uses_metas: dict[str, Any] = Field(default_factory=dict)
    replicas: int = Field(default=1, ge=1)
    needs: list[str] | None = None
    """Predecessors; None means the previous executor (the gateway for the first)."""
    env: dict[str, str] = Field(default_factory=dict)
    external: bool = False
    host: str | None = None
    port: Port | None = None
    workspace: str | None = None
    timeout_ready: float | None = Field(default=None, gt=0)
    """Seconds to wait for this executor's replicas to become ready; the Flow waits for the
    longest of these and its own ``timeout_ready``."""
    uses_requests: dict[str, str] = Field(default_factory=dict)
    """Endpoint -> method name, rebinding the class's ``@requests`` (as Jina's)."""
    uses_dynamic_batching: dict[str, DynamicBatchingSpec] = Field(default_factory=dict)
    """Endpoint -> dynamic batching, overriding the handler's ``@dynamic_batching``."""

    _jina = model_validator(mode="before")(executor_keys)
    _py_modules = field_validator("py_modules", mode="before")(_scalar_to_list)
    _dicts = field_validator("uses_with", "uses_metas", "uses_requests",
                             "uses_dynamic_batching", mode="before")(_none_to(dict))
    _env = field_validator("env", mode="before")(_coerce_env)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lower() == GATEWAY:
            raise _error("name_reserved", "the name '{name}' is reserved for the Flow's gateway",
                         name=value)
        if not _NAME_RE.match(value):
            raise _error(
                "name_invalid",
                "invalid executor name '{name}': use letters, digits, '_' and '-', starting and "
                "ending with a letter or digit",
                name=value,
            )
        return value

    @field_validator("uses", mode="before")
    @classmethod
    def _uses(cls, value: Any) -> Any:
        if value is None or isinstance(value, type):
            return value
        if not isinstance(value, str):
            raise _error("uses_type", "uses must be a string reference or a class, got {got}",
                         got=type(value).__name__)
        if not value.strip():
            raise _error("uses_empty", "uses must not be empty (omit it for a pass-through)")
        return value.strip()

    @field_validator("needs", mode="before")
    @classmethod
    def _needs(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _external_address(self) -> ExecutorSpec:
        if self.external:
            missing = [k for k in ("host", "port") if getattr(self, k) is None]
            if missing:
                raise _error(
                    "external_address",
                    "executor '{name}' is external and needs {missing}",
                    name=self.name,
                    missing=" and ".join(missing),
                )
        return self


class FlowSpec(BaseModel):
    """A whole Flow: gateway settings and executors, plus the file it came from."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    jtype: Literal["Flow"] = "Flow"
    version: str = "1"
    with_: GatewaySpec = Field(default_factory=GatewaySpec, alias="with")
    executors: list[ExecutorSpec] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True)
    """The file the Flow was loaded from (not serialized)."""

    _with = field_validator("with_", mode="before")(_none_to(dict))
    _executors = field_validator("executors", mode="before")(_none_to(list))

    @field_validator("jtype", mode="before")
    @classmethod
    def _jtype(cls, value: Any) -> Any:
        if value != "Flow":
            raise _error(
                "jtype",
                "jtype must be 'Flow', got '{got}' (an executor YAML goes in an executor's "
                "uses, not here)",
                got=str(value),
            )
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return str(value) if is_number else value

    @field_validator("executors")
    @classmethod
    def _unique_names(cls, executors: list[ExecutorSpec]) -> list[ExecutorSpec]:
        first: dict[str, int] = {}
        for i, executor in enumerate(executors):
            if executor.name in first:
                raise _error(
                    "name_duplicate",
                    "duplicate executor name '{name}' (already used by executors[{first}])",
                    at=(i, "name"),
                    name=executor.name,
                    first=first[executor.name],
                )
            first[executor.name] = i
        return executors

    @property
    def base_dir(self) -> Path:
        """Where relative modules and files resolve from: the source's directory, else cwd."""
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def gateway(self) -> GatewaySpec:
        """The ``with:`` block (``with`` is a Python keyword, hence ``with_``)."""
        return self.with_


# ---------------------------------------------------------------------------------------------
# loading


def load_flow(path: str | Path) -> FlowSpec:
    """Read and validate a Flow YAML file; raise one :class:`ConfigError` listing all problems."""
    display = str(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{display}: flow file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read flow file: {exc}") from None
    data, lines, problems = parse_yaml(text, display)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{display}:1: the top level must be a mapping (jtype: Flow, with:, "
                          f"executors:), got {got}")
    return _validate(data, source=file.resolve(), display=display, lines=lines, problems=problems)


def flow_from_dict(data: Mapping[str, Any], *, source: Path | None = None) -> FlowSpec:
    """Validate an already-parsed Flow (e.g. built by the Python API, or from another process)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a Flow config must be a mapping, got {type(data).__name__}")
    display = str(source) if source is not None else None
    resolved = source.resolve() if source is not None else None
    return _validate(dict(data), source=resolved, display=display, lines={}, problems=[])


def spec_to_dict(spec: FlowSpec) -> dict[str, Any]:
    """A plain dict that :func:`flow_from_dict` turns back into an equal spec.

    ``source`` is not included (pass it to ``flow_from_dict``). A ``uses`` given as a class stays
    a class object; resolve it to a string reference first to cross a process boundary.
    """
    return spec.model_dump(mode="python", by_alias=True)


def _validate(
    data: dict[str, Any],
    *,
    source: Path | None,
    display: str | None,
    lines: dict[Loc, int],
    problems: list[Problem],
) -> FlowSpec:
    problems = list(problems)
    if "source" in data:  # a real field, but not one a file may set
        data = {k: v for k, v in data.items() if k != "source"}
        text = problem(("source",), data, "unknown key 'source'")
        problems.append((lines.get(("source",)), text))
    try:
        spec = FlowSpec.model_validate({**data, "source": source})
    except ValidationError as exc:
        problems.extend(describe(err, data, lines, _suggest) for err in exc.errors())
        # pydantic skips the uniqueness check when any executor is invalid; report it anyway
        if not any(err["type"] == "name_duplicate" for err in exc.errors()):
            problems.extend(duplicate_names(data, lines))
        spec = None
    if problems or spec is None:
        raise ConfigError(summary(problems, display))
    return spec


def _suggest(key: str, parent: Loc) -> str:
    if parent == ():
        model: type[BaseModel] = FlowSpec
    elif parent == ("with",):
        model = GatewaySpec
    elif len(parent) == 2 and parent[0] == "executors":
        model = ExecutorSpec
    else:
        return ""
    known = [f.alias or n for n, f in model.model_fields.items() if n != "source"]
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
