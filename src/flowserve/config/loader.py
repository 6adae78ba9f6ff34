"""Resolving an executor's ``uses`` to an :class:`~flowserve.executor.Executor` subclass.

Supported references (``base_dir`` is the Flow file's directory)::

    None                        the base Executor, a pass-through
    <an Executor subclass>      from the Python API, used as is
    'module:Class'              importable module (resolved from base_dir first)
    'pkg.module.Class'          dotted form of the same
    'path/to/file.py:Class'     a file, relative to base_dir or absolute
    'path/to/file.py'           a file defining exactly one Executor subclass
    'Class'                     a class found in one of py_modules
    'exec.yml'                  a Jina executor YAML (jtype/with/metas/py_modules)

``docker://`` and ``jinahub://`` references cannot run here and fail with an explanation.
Every failure is an :class:`ExecutorLoadError` naming the executor.

Files are imported under a stable module name derived from their absolute path and registered in
``sys.modules``, so the same file imports once per process and its classes pickle by reference
(:mod:`flowserve.config.imports`); executor YAML files are read by
:mod:`flowserve.config.executor_yaml`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ExecutorLoadError
from ..executor import Executor
from .executor_yaml import is_yaml, read_executor_yaml
from .imports import (
    FILE_MODULE_PREFIX,
    absolute,
    import_entry,
    import_file,
    import_module,
    is_path,
)
from .main_source import definitions_file
from .spec import ExecutorSpec

__all__ = ["ResolvedExecutor", "class_ref", "load_executor_class", "resolve_executor"]

_HUB_SCHEMES = ("jinahub://", "jinahub+docker://", "jinahub+sandbox://")


@dataclass(frozen=True)
class ResolvedExecutor:
    """An executor's class plus the constructor arguments to build it with.

    A fresh process rebuilds the class with
    ``load_executor_class(ref, py_modules=py_modules, base_dir=base_dir, executor_name=...)``.
    """

    cls: type[Executor]
    uses_with: dict[str, Any]
    uses_metas: dict[str, Any]
    ref: str
    """``'module:Qualname'``, or ``'/abs/file.py:Qualname'`` for __main__ and file modules."""
    py_modules: tuple[str, ...] = ()
    """The py_modules to import first, file paths made absolute."""
    base_dir: Path = field(default_factory=Path.cwd)
    """Where module names in `ref` and `py_modules` resolve from."""


def resolve_executor(spec: ExecutorSpec, base_dir: Path) -> ResolvedExecutor:
    """Resolve `spec.uses`; an executor YAML's with/metas merge under the Flow's (Flow wins)."""
    name = spec.name
    uses = spec.uses
    if isinstance(uses, str) and is_yaml(uses):
        doc = read_executor_yaml(uses, base_dir, name)
        py_modules = (*doc.py_modules, *absolute(spec.py_modules, base_dir))
        where = doc.path.parent
        cls = load_executor_class(doc.jtype, py_modules=py_modules, base_dir=where,
                                  executor_name=name)
        uses_with = {**doc.with_, **spec.uses_with}
        uses_metas = {**doc.metas, **spec.uses_metas}
    else:
        py_modules = absolute(spec.py_modules, base_dir)
        where = base_dir
        cls = load_executor_class(uses, py_modules=py_modules, base_dir=base_dir,
                                  executor_name=name)
        uses_with = dict(spec.uses_with)
        uses_metas = dict(spec.uses_metas)
    try:
        ref = class_ref(cls)
    except ExecutorLoadError as exc:
        raise ExecutorLoadError(f"executor {name!r}: {exc}") from None
    return ResolvedExecutor(cls=cls, uses_with=uses_with, uses_metas=uses_metas, ref=ref,
                            py_modules=py_modules, base_dir=where)


def load_executor_class(
    uses: str | type | None,
    *,
    py_modules: Sequence[str] = (),
    base_dir: Path,
    executor_name: str,
) -> type[Executor]:
    """Import what `uses` names and check it is an Executor subclass.

    `py_modules` are imported first (files relative to `base_dir`); module names resolve from
    `base_dir` before the rest of ``sys.path``. An executor YAML's ``with``/``metas`` are ignored
    here; use :func:`resolve_executor` to get them.
    """
    who = f"executor {executor_name!r}"
    if uses is None:
        return Executor
    if isinstance(uses, type):
        return _check_executor(uses, f"{who}: class {uses.__qualname__!r}")
    if not isinstance(uses, str) or not uses.strip():
        raise ExecutorLoadError(f"{who}: uses must be a string reference or a class, got {uses!r}")
    uses = uses.strip()
    _reject_remote(uses, who)
    if is_yaml(uses):
        doc = read_executor_yaml(uses, base_dir, executor_name)
        return load_executor_class(doc.jtype, py_modules=(*doc.py_modules, *py_modules),
                                   base_dir=doc.path.parent, executor_name=executor_name)

    context = f"uses {uses!r}"
    modules = [import_entry(entry, base_dir, who, context) for entry in py_modules]
    module_part, qualname = _split_ref(uses)
    if module_part is None:
        return _find_bare(qualname, modules, py_modules, who, context)
    if is_path(module_part):
        module = import_file(module_part, base_dir, who, context)
        if not qualname:
            return _only_executor_in(module, module_part, who, context)
        return _attribute(module, module_part, qualname, who, context)
    return _import_dotted(module_part, qualname, base_dir, who, context)


def class_ref(cls: type) -> str:
    """A string another process can pass to :func:`load_executor_class` to get `cls` back.

    ``'module:Qualname'`` normally; ``'/abs/file.py:Qualname'`` for classes defined in the main
    script or in a file imported by path. The main script is imported again in that process, so
    it must guard its Flow start with ``if __name__ == '__main__':``. For a ``__main__`` without
    a file (``python -c``, a notebook), the session's definitions are written to a file first
    (:mod:`flowserve.config.main_source`).
    """
    if not isinstance(cls, type):
        raise ExecutorLoadError(f"expected a class, got {cls!r}")
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        raise ExecutorLoadError(
            f"class {qualname!r} is defined inside a function; define executors at module "
            "level so worker processes can import them"
        )
    module_name = cls.__module__
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if module_name in ("__main__", "__mp_main__"):
        if not file:
            # `python -c`, a notebook: workers import the session's definitions from a file.
            return f"{definitions_file(qualname)}:{qualname}"
        return f"{Path(file).resolve()}:{qualname}"
    if module_name.startswith(FILE_MODULE_PREFIX) and file:
        return f"{Path(file).resolve()}:{qualname}"
    return f"{module_name}:{qualname}"


# ---------------------------------------------------------------------------------------------
# references


def _reject_remote(uses: str, who: str) -> None:
    if uses.startswith(_HUB_SCHEMES):
        raise ExecutorLoadError(
            f"{who}: uses {uses!r} refers to Jina's Executor Hub, which is not supported here; "
            "use a local Executor class instead (e.g. uses: 'my_module:MyExecutor')"
        )
    if uses.startswith("docker://"):
        raise ExecutorLoadError(
            f"{who}: uses {uses!r} is a Docker image; it can only be exported (Kubernetes, "
            "Docker Compose), not run locally since flowserve does not run Docker; use a local "
            "Executor class to run this Flow"
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", uses)
    if scheme:
        raise ExecutorLoadError(f"{who}: unsupported uses scheme {scheme.group(1)!r} in {uses!r}")


def _split_ref(uses: str) -> tuple[str | None, str]:
    """('module or path', 'Qualname'); module None for a bare name, qualname '' for a bare file."""
    if ":" in uses:
        module_part, qualname = uses.rsplit(":", 1)
        return module_part, qualname
    if is_path(uses):
        return uses, ""
    if "." in uses:
        module_part, qualname = uses.rsplit(".", 1)
        return module_part, qualname
    return None, uses


# ---------------------------------------------------------------------------------------------
# classes


def _import_dotted(
    module_part: str, qualname: str, base_dir: Path, who: str, context: str
) -> type[Executor]:
    """Import 'pkg.mod' then get 'Class'; for 'pkg.mod.Outer.Inner' also try shorter modules."""
    parts = f"{module_part}.{qualname}".split(".")
    first_error: ExecutorLoadError | None = None
    for cut in range(len(parts) - 1, 0, -1):
        module_name, attr = ".".join(parts[:cut]), ".".join(parts[cut:])
        try:
            module = import_module(module_name, base_dir, who, context)
        except ExecutorLoadError as exc:
            missing = getattr(exc.__cause__, "name", None)
            if not isinstance(exc.__cause__, ModuleNotFoundError) or not (
                module_name == missing or module_name.startswith(f"{missing}.")
            ):
                raise  # the module exists but failed to import: that error is the answer
            first_error = first_error or exc
            continue
        if first_error is not None and not _has_path(module, attr):
            break
        return _attribute(module, module_name, attr, who, context)
    assert first_error is not None
    raise first_error


def _has_path(obj: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _attribute(
    module: ModuleType, module_label: str, qualname: str, who: str, context: str
) -> type[Executor]:
    obj: Any = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            available = ", ".join(_executors_in(module)) or "none"
            raise ExecutorLoadError(
                f"{who}: module {module_label!r} has no class {qualname!r} (from {context}); "
                f"Executor classes it defines: {available}"
            )
        obj = getattr(obj, part)
    return _check_executor(obj, f"{who}: {module_label}:{qualname} (from {context})")


def _find_bare(
    qualname: str,
    modules: Sequence[ModuleType],
    py_modules: Sequence[str],
    who: str,
    context: str,
) -> type[Executor]:
    for module in modules:
        if _has_path(module, qualname):
            return _attribute(module, module.__name__, qualname, who, context)
    if qualname == Executor.__name__:
        return Executor
    if not py_modules:
        raise ExecutorLoadError(
            f"{who}: {context} is a bare class name but no py_modules are given; write "
            f"'module:{qualname}' or 'file.py:{qualname}', or list its module in py_modules"
        )
    raise ExecutorLoadError(
        f"{who}: class {qualname!r} (from {context}) not found in py_modules {list(py_modules)}"
    )


def _only_executor_in(module: ModuleType, label: str, who: str, context: str) -> type[Executor]:
    found = _executors_in(module)
    if len(found) != 1:
        listed = ", ".join(found) or "none"
        raise ExecutorLoadError(
            f"{who}: {context} names a file but not a class, and the file defines "
            f"{len(found)} Executor classes ({listed}); write '{label}:ClassName'"
        )
    return _attribute(module, label, found[0], who, context)


def _executors_in(module: ModuleType) -> list[str]:
    """Names of Executor subclasses defined (not just imported) in `module`."""
    return [
        name for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Executor) and value is not Executor
        and value.__module__ == module.__name__
    ]


def _check_executor(obj: Any, what: str) -> type[Executor]:
    if isinstance(obj, type) and issubclass(obj, Executor):
        return obj
    got = (f"class {obj.__qualname__!r}" if isinstance(obj, type)
           else f"{type(obj).__name__} {obj!r}")
    raise ExecutorLoadError(f"{what} is not an Executor subclass (got {got}); subclass "
                            "flowserve.Executor")
