"""Reading a Jina executor YAML, the file an executor's ``uses: exec.yml`` points at::

    jtype: MyExecutor           # the class; resolved like any other `uses` reference
    with: {param: 1}            # constructor arguments (the Flow's uses_with wins)
    metas: {py_modules: [...]}  # metas; a py_modules key here is moved to the top level
    py_modules: [my_module.py]  # imported first, relative to this file

Any problem is an :class:`~flowserve.errors.ExecutorLoadError` naming the executor, the file and
the line of the offending key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ExecutorLoadError
from .imports import absolute, resolve_path
from .yamlbound import AliasExpansionError, load_bounded

__all__ = ["ExecutorYaml", "is_yaml", "read_executor_yaml"]

_YAML_SUFFIXES = (".yml", ".yaml")
_EXECUTOR_YAML_KEYS = ("jtype", "with", "metas", "py_modules")


@dataclass(frozen=True)
class ExecutorYaml:
    """The parts of an executor YAML, with its py_modules made absolute."""

    path: Path
    jtype: str
    with_: dict[str, Any]
    metas: dict[str, Any]
    py_modules: tuple[str, ...]


def is_yaml(uses: str) -> bool:
    """Whether a `uses` reference names an executor YAML file (by its suffix)."""
    return uses.lower().endswith(_YAML_SUFFIXES)


def read_executor_yaml(uses: str, base_dir: Path, executor_name: str) -> ExecutorYaml:
    """Read and check the executor YAML `uses` (relative to `base_dir`)."""
    path = resolve_path(uses, base_dir)
    who = f"executor {executor_name!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExecutorLoadError(f"{who}: cannot read executor YAML {uses!r} ({str(path)!r}): "
                                f"{exc.strerror or exc}") from None
    try:
        node, data = load_bounded(text)
    except AliasExpansionError as exc:
        raise ExecutorLoadError(f"{who}: {path}:{exc.line}: invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ExecutorLoadError(f"{who}: {path}{line}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ExecutorLoadError(f"{who}: {path}: an executor YAML must be a mapping with jtype, "
                                "with, metas, py_modules")
    key_lines = {
        k.value: k.start_mark.line + 1
        for k, _ in (node.value if isinstance(node, yaml.MappingNode) else [])
        if isinstance(k, yaml.ScalarNode)
    }

    def fail(key: str, message: str) -> ExecutorLoadError:
        line = f":{key_lines[key]}" if key in key_lines else ""
        return ExecutorLoadError(f"{who}: {path}{line}: {message}")

    for key in data:
        if key not in _EXECUTOR_YAML_KEYS:
            raise fail(str(key), f"unknown key {key!r} in executor YAML (expected "
                                 f"{', '.join(_EXECUTOR_YAML_KEYS)})")
    jtype = data.get("jtype")
    if not isinstance(jtype, str) or not jtype.strip():
        raise fail("jtype", "jtype must name the Executor class, e.g. jtype: MyExecutor")
    if is_yaml(jtype):
        raise fail("jtype", f"jtype {jtype!r} must be a class, not another YAML file")
    sections: dict[str, dict[str, Any]] = {}
    for key in ("with", "metas"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise fail(key, f"{key} must be a mapping, got {type(value).__name__}")
        sections[key] = dict(value)
    metas = sections["metas"]
    entries: list[str] = []
    for where, raw in (("py_modules", data.get("py_modules")), ("py_modules",
                                                                 metas.pop("py_modules", None))):
        items = [raw] if isinstance(raw, str) else raw or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise fail(where, "py_modules must be a string or a list of strings")
        entries.extend(items)
    return ExecutorYaml(
        path=path,
        jtype=jtype.strip(),
        with_=sections["with"],
        metas=metas,
        py_modules=absolute(entries, path.parent),
    )
