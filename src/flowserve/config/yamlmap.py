"""YAML with line numbers, and Flow config problems rendered as ``file:line: path (name): text``.

:func:`parse_yaml` returns the data together with a *line map*: the line of every key path in the
file (``('executors', 1, 'uses_wth') -> 9``), so a validation error located by key path can be
reported at its line. The remaining functions turn such errors into the one message a
:class:`~flowserve.errors.ConfigError` carries; :mod:`flowserve.config.spec` supplies the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from ..errors import ConfigError
from .yamlbound import AliasExpansionError, load_bounded

__all__ = [
    "Loc",
    "Problem",
    "describe",
    "duplicate_names",
    "line_of",
    "parse_yaml",
    "problem",
    "summary",
]

Loc = tuple[str | int, ...]
"""A key path into the parsed data, e.g. ``('executors', 1, 'uses')``."""
Problem = tuple[int | None, str]
"""(line in the file or None, message without the file prefix)."""


def parse_yaml(text: str, display: str) -> tuple[Any, dict[Loc, int], list[Problem]]:
    """Parse YAML, returning (data, line of each key path, duplicate-key problems)."""
    try:
        node, data = load_bounded(text)
    except AliasExpansionError as exc:
        raise ConfigError(f"{display}:{exc.line}: invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{display}:{mark.line + 1}" if mark is not None else display
        raise ConfigError(f"{where}: invalid YAML: {_yaml_reason(exc)}") from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), lines, problems, data if isinstance(data, dict) else {})
    return data, lines, problems


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        return ", ".join(parts) or str(exc)
    return str(exc)


def _walk(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    problems: list[Problem],
    data: dict[str, Any],
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                problems.append((line, problem(loc, data, f"duplicate key {key!r}")))
            seen.add(key)
            lines.setdefault((*loc, key), line)
            _walk(value_node, (*loc, key), lines, problems, data)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines, problems, data)


def line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of the longest prefix of `loc` present in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# ---------------------------------------------------------------------------------------------
# messages


def describe(
    err: Any,
    data: dict[str, Any],
    lines: dict[Loc, int],
    suggest: Callable[[str, Loc], str],
) -> Problem:
    """Turn one pydantic error into (line, 'path (executor): message').

    `suggest(key, parent)` returns a hint for an unknown key (e.g. " (did you mean 'x'?)") or "".
    """
    loc: Loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("at", ()))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        parent = loc[:-1]
        text = f"unknown key {key!r}" + suggest(str(key), parent)
        return line_of(loc, lines), problem(parent, data, text)
    if kind == "missing":
        return line_of(loc, lines), problem(loc[:-1], data, f"missing required key {loc[-1]!r}")
    text = err["msg"]
    value = err.get("input")
    builtin = "url" in err  # pydantic's own messages do not show the offending value
    if builtin and isinstance(value, str | int | float) and len(repr(value)) < 60:
        text += f" (got {value!r})"
    return line_of(loc, lines), problem(loc, data, text)


def problem(loc: Loc, data: dict[str, Any], text: str) -> str:
    """`text` prefixed with the key path and, inside an executor, the executor's name."""
    path = _format_loc(loc)
    name = _executor_name(loc, data)
    subject = " ".join(part for part in (path, f"({name})" if name else "") if part)
    return f"{subject}: {text}" if subject else text


def summary(problems: list[Problem], display: str | None) -> str:
    """One message listing every problem in line order, each prefixed with ``file:line:``."""
    ordered = sorted(problems, key=lambda p: p[0] if p[0] is not None else 0)
    rendered = []
    for line, text in ordered:
        where = f"{display}:{line}: " if display and line else f"{display}: " if display else ""
        rendered.append(where + text)
    if len(rendered) == 1:
        return f"invalid Flow config: {rendered[0]}"
    head = f"invalid Flow config{f' in {display}' if display else ''}"
    return f"{head} ({len(rendered)} problems):\n" + "\n".join(f"  {r}" for r in rendered)


def duplicate_names(data: dict[str, Any], lines: dict[Loc, int]) -> list[Problem]:
    """Executors of the raw data sharing a name (for when the schema check could not run)."""
    executors = data.get("executors")
    if not isinstance(executors, list):
        return []
    first: dict[str, int] = {}
    found = []
    for i, entry in enumerate(executors):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in first:
            loc: Loc = ("executors", i, "name")
            text = f"duplicate executor name {name!r} (already used by executors[{first[name]}])"
            found.append((line_of(loc, lines), problem(loc, data, text)))
        else:
            first[name] = i
    return found


def _format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _executor_name(loc: Loc, data: dict[str, Any]) -> str | None:
    if len(loc) >= 2 and loc[0] == "executors" and isinstance(loc[1], int):
        executors = data.get("executors")
        if isinstance(executors, list) and loc[1] < len(executors):
            entry = executors[loc[1]]
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                return str(entry["name"])
    return None
