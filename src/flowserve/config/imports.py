"""Importing the modules an executor reference names: by module name, or by file path.

Module names resolve from a base directory (the Flow file's) before the rest of ``sys.path``.
Files are imported under a stable module name derived from their absolute path and registered in
``sys.modules``, so the same file imports once per process and its classes pickle by reference.
Every failure is an :class:`~flowserve.errors.ExecutorLoadError` naming the executor (`who`) and
where the reference came from (`context`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from ..errors import ExecutorLoadError

__all__ = [
    "FILE_MODULE_PREFIX",
    "absolute",
    "import_entry",
    "import_file",
    "import_module",
    "is_path",
    "resolve_path",
]

FILE_MODULE_PREFIX = "flowserve_file_"
"""Prefix of the ``sys.modules`` names of files imported by path."""


def is_path(ref: str) -> bool:
    """Whether a module reference is a file path rather than a module name."""
    return ref.endswith(".py") or "/" in ref or os.sep in ref


def absolute(entries: Sequence[str], base_dir: Path) -> tuple[str, ...]:
    """py_modules with file paths made absolute (module names are kept)."""
    return tuple(str(resolve_path(e, base_dir)) if is_path(e) else e for e in entries)


def resolve_path(entry: str, base_dir: Path) -> Path:
    """`entry` (``~`` expanded) as an absolute path, relative ones taken from `base_dir`."""
    path = Path(entry).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


@contextmanager
def _search_first(*dirs: Path) -> Iterator[None]:
    """Put `dirs` at the front of sys.path for the duration of an import."""
    added = [str(d) for d in dirs]
    sys.path[:0] = added
    importlib.invalidate_caches()  # directories may have gained files since the last import
    try:
        yield
    finally:
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def import_entry(entry: str, base_dir: Path, who: str, context: str) -> ModuleType:
    """Import one py_modules entry, a file path or a module name."""
    if is_path(entry):
        return import_file(entry, base_dir, who, f"py_modules of {context}")
    return import_module(entry, base_dir, who, f"py_modules of {context}")


def import_module(module_name: str, base_dir: Path, who: str, context: str) -> ModuleType:
    """Import a module by name, searching `base_dir` first.

    The error's ``__cause__`` is the original exception (a caller may inspect it).
    """
    try:
        with _search_first(base_dir):
            return importlib.import_module(module_name)
    except Exception as exc:
        raise ExecutorLoadError(
            f"{who}: cannot import module {module_name!r} (from {context}): {exc}"
        ) from exc


def _file_module_name(path: Path) -> str:
    """A stable module name for a file, the same in every process that imports it."""
    stem = re.sub(r"\W", "_", path.stem if path.is_file() else path.name) or "module"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"{FILE_MODULE_PREFIX}{stem}_{digest}"


def import_file(entry: str, base_dir: Path, who: str, context: str) -> ModuleType:
    """Import a ``.py`` file or a package directory once per process, under a stable name."""
    path = resolve_path(entry, base_dir)
    if path.name == "__init__.py":
        path = path.parent
    package = path.is_dir()
    file = path / "__init__.py" if package else path
    if not file.is_file():
        raise ExecutorLoadError(
            f"{who}: cannot import module {entry!r} (from {context}): file {str(file)!r} not "
            f"found (relative paths resolve from {str(base_dir)!r})"
        )
    name = _file_module_name(path)
    cached = sys.modules.get(name)
    if cached is not None:
        return cached
    spec = importlib.util.spec_from_file_location(
        name, file, submodule_search_locations=[str(path)] if package else None
    )
    if spec is None or spec.loader is None:
        raise ExecutorLoadError(f"{who}: cannot import module {entry!r} (from {context}): "
                                "not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec, as the import system does, for self-references
    try:
        with _search_first(path if package else path.parent, base_dir):
            spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ExecutorLoadError(
            f"{who}: cannot import module {entry!r} (from {context}): {exc}"
        ) from exc
    return module
