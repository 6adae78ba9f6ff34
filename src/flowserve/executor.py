"""Executors: user classes whose ``@requests`` methods process a DocumentArray.

``@requests`` (and ``@dynamic_batching``) only tag a method; :func:`discover_endpoints`
builds the plain map endpoint -> :class:`Handler` that the worker runtime uses. Nothing here
knows about transports.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, TypeVar, overload

from .errors import ConfigError

__all__ = ["DEFAULT_ENDPOINT", "Batching", "Executor", "Handler", "batching_from",
           "batch_slots", "declared_batching", "discover_endpoints", "dynamic_batching",
           "executor_parameters", "requests"]

DEFAULT_ENDPOINT = "/default"
_TAG = "__flowserve_endpoints__"
_BATCHING_TAG = "__flowserve_batching__"
DEFAULT_BATCH_TIMEOUT_MS = 10_000.0  # Jina's default

F = TypeVar("F", bound=Callable[..., Any])


@overload
def requests(func: F, /) -> F: ...
@overload
def requests(*, on: str | Sequence[str] | None = None) -> Callable[[F], F]: ...
def requests(func: Any = None, /, *, on: str | Sequence[str] | None = None) -> Any:
    """Mark an Executor method as a request handler.

    ``@requests`` binds the method to ``/default``; ``@requests(on='/index')`` or
    ``on=['/a', '/b']`` binds it to those endpoints. A generator method, async
    (``async def gen(self, doc, parameters, **kwargs): yield Document(...)``) or not, makes a
    streaming endpoint, called with ``stream_doc`` (docs/streaming.md). The method is
    returned unchanged apart from the tag, so it stays callable as a normal method.
    """
    if on is None:
        endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    elif isinstance(on, str):
        endpoints = (on,)
    else:
        endpoints = tuple(on)
    for endpoint in endpoints:
        if not isinstance(endpoint, str) or not endpoint:
            raise ConfigError(f"@requests(on=...) takes endpoint strings, got {endpoint!r}")

    def tag(f: F) -> F:
        setattr(f, _TAG, endpoints)
        return f

    return tag(func) if func is not None else tag


@dataclass(frozen=True)
class Batching:
    """How a handler's requests are batched: up to `preferred_batch_size` docs per call (None:
    no bound, the batch is cut by `timeout` alone), waiting at most `timeout` milliseconds
    for the batch to fill."""

    preferred_batch_size: int | None = None
    timeout: float = DEFAULT_BATCH_TIMEOUT_MS

    def __post_init__(self) -> None:
        size = self.preferred_batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"dynamic batching: preferred_batch_size must be a positive "
                              f"integer or None, got {size!r}")
        if (isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float)
                or not self.timeout >= 0):
            raise ConfigError(f"dynamic batching: timeout must be a number of milliseconds "
                              f">= 0, got {self.timeout!r}")

    @property
    def timeout_s(self) -> float:
        return self.timeout / 1000.0


def declared_batching(cls: type) -> dict[str, Batching]:
    """Endpoint -> `Batching` as the class's ``@dynamic_batching`` declares it (no instance
    needed: the orchestrator reads it to size the gateway's admission)."""
    found: dict[str, Batching] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            batching = getattr(value, _BATCHING_TAG, None)
            if isinstance(batching, Batching):
                found.update(dict.fromkeys(getattr(value, _TAG, ()), batching))
    return found


def batch_slots(batchings: Iterable[Batching]) -> int:
    """Requests per replica a gateway should let through to reach these batches: the largest
    `preferred_batch_size` (0 when none is batching with a size)."""
    return max((b.preferred_batch_size or 0 for b in batchings), default=0)


def batching_from(endpoints: Mapping[str, Mapping[str, Any]], executor: str,
                  ) -> dict[str, Batching]:
    """``uses_dynamic_batching`` (endpoint -> ``{preferred_batch_size, timeout}``) as
    `Batching` values; unknown keys are an error naming the executor and endpoint."""
    out = {}
    for endpoint, options in endpoints.items():
        unknown = set(options) - {"preferred_batch_size", "timeout"}
        if unknown:
            raise ConfigError(f"executor {executor!r}: uses_dynamic_batching[{endpoint!r}] has "
                              f"unknown key(s) {', '.join(sorted(unknown))}; expected "
                              "preferred_batch_size, timeout")
        out[endpoint] = Batching(**options)
    return out


@overload
def dynamic_batching(func: F, /) -> F: ...
@overload
def dynamic_batching(*, preferred_batch_size: int | None = None,
                     timeout: float = DEFAULT_BATCH_TIMEOUT_MS) -> Callable[[F], F]: ...
def dynamic_batching(func: Any = None, /, *, preferred_batch_size: int | None = None,
                     timeout: float = DEFAULT_BATCH_TIMEOUT_MS) -> Any:
    """Batch a handler's requests dynamically, as Jina's ``@dynamic_batching``.

    The worker merges the docs of concurrent requests (same endpoint, equal ``parameters``)
    into one call of up to `preferred_batch_size` docs, waiting at most `timeout`
    milliseconds for a batch to fill, and splits the result back per request, in order. Put
    it above or below ``@requests``; a Flow's ``uses_dynamic_batching`` overrides it.
    """
    batching = Batching(preferred_batch_size, timeout)

    def tag(f: F) -> F:
        setattr(f, _BATCHING_TAG, batching)
        return f

    return tag(func) if func is not None else tag


class Executor:
    """Base class of user executors.

    Subclasses take their own constructor arguments (from ``uses_with``) and must pass the rest
    on: ``super().__init__(*args, **kwargs)``. ``metas`` come from ``uses_metas``;
    ``runtime_args`` are set by the runtime (``name``, ``replica_id``, ``workspace``).
    """

    def __init__(
        self,
        *args: Any,
        metas: dict[str, Any] | None = None,
        runtime_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        runtime = dict(runtime_args or {})
        name = runtime.get("name") or (metas or {}).get("name") or type(self).__name__
        if args or kwargs:
            unexpected = ", ".join([*(repr(a) for a in args), *kwargs])
            raise ConfigError(
                f"executor {name!r} ({type(self).__name__}): unexpected constructor "
                f"argument(s) {unexpected}; check its uses_with"
            )
        other_metas = {k: v for k, v in (metas or {}).items() if k != "name"}
        self.metas = SimpleNamespace(name=name, **other_metas)
        runtime.setdefault("name", name)
        runtime.setdefault("replica_id", 0)
        runtime.setdefault("workspace", None)
        self.runtime_args = SimpleNamespace(**runtime)

    @property
    def name(self) -> str:
        """The executor's name in the Flow."""
        return str(self.runtime_args.name)

    @property
    def workspace(self) -> str | None:
        """A directory the executor may write to, if the Flow gave one."""
        return self.runtime_args.workspace

    def close(self) -> None:
        """Called once when the executor's process stops; override to release resources."""


@dataclass(frozen=True)
class Handler:
    """A bound request handler and how to call it."""

    endpoint: str
    fn: Callable[..., Any]
    is_async: bool
    accepts: frozenset[str] | None  # keyword names it takes; None = it takes **kwargs
    batching: Batching | None = None  # dynamic batching, if the endpoint has it
    is_stream: bool = False  # a generator, async or not: a streaming endpoint (streaming.md)

    @property
    def takes_parameters(self) -> bool:
        """Whether the handler receives ``parameters`` (named, or through ``**kwargs``)."""
        return self.accepts is None or "parameters" in self.accepts

    def call_kwargs(self, available: dict[str, Any]) -> dict[str, Any]:
        """The subset of `available` keyword arguments this handler's signature accepts."""
        if self.accepts is None:
            return available
        return {k: v for k, v in available.items() if k in self.accepts}


def executor_parameters(parameters: dict[str, Any], executor: str) -> dict[str, Any]:
    """The ``parameters`` an executor's handler sees (Jina's rule): a key naming the executor
    holds parameters for it alone, merged over the shared ones (a copy; `parameters` itself
    is left alone)."""
    own = parameters.get(executor)
    if own and isinstance(own, dict):
        return {**parameters, **own}
    return parameters


def discover_endpoints(executor: Executor,
                       uses_requests: Mapping[str, str] | None = None,
                       uses_dynamic_batching: Mapping[str, Batching] | None = None,
                       ) -> dict[str, Handler]:
    """Map each endpoint to its handler, walking the class MRO so subclasses override bases.

    `uses_requests` (endpoint -> method name) rebinds as Jina's does: a method named there
    leaves the endpoints ``@requests`` gave it and serves the endpoint given instead.
    `uses_dynamic_batching` (endpoint -> `Batching`) overrides ``@dynamic_batching``."""
    found: dict[str, Handler] = {}
    for klass in reversed(type(executor).__mro__):
        for attr, value in vars(klass).items():
            endpoints = getattr(value, _TAG, None)
            if endpoints is None:
                continue
            bound = getattr(executor, attr)
            for endpoint in endpoints:
                found[endpoint] = _make_handler(endpoint, bound)
    for endpoint, method in (uses_requests or {}).items():
        bound = getattr(executor, method, None) if not method.startswith("_") else None
        if not callable(bound):
            raise ConfigError(f"executor {executor.name!r}: uses_requests binds {endpoint!r} to "
                              f"{method!r}, which is not a method of {type(executor).__name__}")
        name = getattr(bound, "__name__", method)
        found = {e: h for e, h in found.items() if getattr(h.fn, "__name__", None) != name}
    for endpoint, method in (uses_requests or {}).items():
        found[endpoint] = _make_handler(endpoint, getattr(executor, method))
    for endpoint, batching in (uses_dynamic_batching or {}).items():
        if endpoint not in found:
            raise ConfigError(f"executor {executor.name!r}: uses_dynamic_batching names "
                              f"{endpoint!r}, which none of its handlers serves "
                              f"(endpoints: {', '.join(sorted(found)) or 'none'})")
        found[endpoint] = replace(found[endpoint], batching=batching)
    return found


def _make_handler(endpoint: str, bound: Callable[..., Any]) -> Handler:
    params = inspect.signature(bound).parameters.values()
    takes_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    accepts = None if takes_var_kw else frozenset(
        p.name for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )
    return Handler(
        endpoint=endpoint,
        fn=bound,
        is_async=inspect.iscoroutinefunction(bound),
        accepts=accepts,
        batching=getattr(bound, _BATCHING_TAG, None),
        is_stream=inspect.isasyncgenfunction(bound) or inspect.isgeneratorfunction(bound),
    )
