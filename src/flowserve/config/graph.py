"""The Flow's DAG: which executors each executor needs, starting from the gateway.

Requests enter at the reserved node ``'gateway'``, go to every executor that needs it, and an
executor runs once all of its needs have answered (fan-in merges their outputs). The gateway
returns the merged output of the sinks, the executors nothing else needs. A Flow with no
executors is valid: the gateway echoes requests.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..errors import ConfigError
from .spec import GATEWAY, FlowSpec

__all__ = ["GATEWAY", "FlowGraph", "build_graph", "graph_from_mapping"]


@dataclass(frozen=True)
class FlowGraph:
    """Executor name -> the names it needs (``'gateway'`` for the start), in declaration order.

    Build it with :func:`build_graph` or :func:`graph_from_mapping`, which validate it.
    """

    needs: dict[str, tuple[str, ...]]

    def __hash__(self) -> int:
        return hash(tuple(self.needs.items()))

    @property
    def executors(self) -> tuple[str, ...]:
        """Executor names in declaration order."""
        return tuple(self.needs)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """A topological order; among ready executors the earlier-declared comes first."""
        return _topological(self.needs)

    @cached_property
    def sinks(self) -> tuple[str, ...]:
        """Executors no other executor needs, in declaration order."""
        needed = {n for preds in self.needs.values() for n in preds}
        return tuple(name for name in self.needs if name not in needed)

    @cached_property
    def _successors(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {GATEWAY: [], **{name: [] for name in self.needs}}
        for name, preds in self.needs.items():
            for pred in preds:
                out[pred].append(name)
        return {name: tuple(succ) for name, succ in out.items()}

    def successors(self, name: str) -> tuple[str, ...]:
        """Executors that need `name` (``'gateway'`` gives the entry executors)."""
        try:
            return self._successors[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the Flow graph") from None

    def predecessors(self, name: str) -> tuple[str, ...]:
        """What `name` needs (empty for the gateway)."""
        if name == GATEWAY:
            return ()
        try:
            return self.needs[name]
        except KeyError:
            raise KeyError(f"no node {name!r} in the Flow graph") from None

    def to_json(self) -> str:
        """A compact JSON form that :meth:`from_json` turns back into an equal graph."""
        return json.dumps({"needs": {k: list(v) for k, v in self.needs.items()}},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FlowGraph:
        """Parse and validate :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"Flow graph is not valid JSON: {exc}") from None
        needs = data.get("needs") if isinstance(data, dict) else None
        if not isinstance(needs, dict) or not all(
            isinstance(v, list) and all(isinstance(p, str) for p in v) for v in needs.values()
        ):
            raise ConfigError('Flow graph JSON must look like {"needs": {"name": ["pred", ...]}}')
        return graph_from_mapping(needs)


def build_graph(spec: FlowSpec) -> FlowGraph:
    """The DAG of a Flow; ``needs`` None means the previous executor (the gateway for the first)."""
    needs: dict[str, list[str]] = {}
    previous = GATEWAY
    for executor in spec.executors:
        needs[executor.name] = list(executor.needs) if executor.needs is not None else [previous]
        previous = executor.name
    where = f"{spec.source.name}: " if spec.source is not None else ""
    return _validated(needs, where)


def graph_from_mapping(needs: Mapping[str, Sequence[str]]) -> FlowGraph:
    """A validated graph from explicit needs (every executor must list at least one need)."""
    plain: dict[str, list[str]] = {}
    for name, preds in needs.items():
        if isinstance(preds, str):
            preds = [preds]
        plain[name] = list(preds)
    return _validated(plain, "")


def _validated(needs: dict[str, list[str]], where: str) -> FlowGraph:
    problems: list[str] = []
    if GATEWAY in needs:
        problems.append(f"{where}{GATEWAY!r} is reserved for the gateway, not an executor name")
    clean: dict[str, tuple[str, ...]] = {}
    for name, preds in needs.items():
        who = f"{where}executor {name!r}"
        deduped = tuple(dict.fromkeys(preds))  # a repeated need is still one edge
        if not deduped:
            problems.append(f"{who}: needs is empty; use needs: gateway to start from the gateway")
        for pred in deduped:
            if pred == name:
                problems.append(f"{who}: needs itself")
            elif pred != GATEWAY and pred not in needs:
                known = ", ".join([GATEWAY, *(n for n in needs if n != name)])
                problems.append(f"{who}: needs unknown executor {pred!r} (known: {known})")
        clean[name] = deduped
    if not problems:
        cycle = _find_cycle(clean)
        if cycle:
            path = " -> ".join([*cycle, cycle[0]])
            problems.append(
                f"{where}executor {cycle[0]!r}: needs form a cycle: {path} (each needs the next)"
            )
    if problems:
        raise ConfigError("invalid Flow graph: " + "; ".join(problems))
    return FlowGraph(needs=clean)


def _topological(needs: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm, picking the earliest-declared ready executor each step."""
    index = {name: i for i, name in enumerate(needs)}
    waiting = {name: sum(1 for p in preds if p != GATEWAY) for name, preds in needs.items()}
    dependents: dict[str, list[str]] = {name: [] for name in needs}
    for name, preds in needs.items():
        for pred in preds:
            if pred != GATEWAY:
                dependents[pred].append(name)
    ready = [index[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    names = list(needs)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, index[dependent])
    return tuple(order)


def _find_cycle(needs: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle among executors as a list of names in need order, or None."""
    if len(_topological(needs)) == len(needs):
        return None
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for pred in needs[name]:
            if pred == GATEWAY:
                continue
            if state.get(pred) == 1:
                return stack[stack.index(pred):]  # each entry needs the next
            if pred not in state:
                found = visit(pred)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for start in needs:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None
