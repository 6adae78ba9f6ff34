"""Executors defined in a ``__main__`` that has no file: ``python -c``, a notebook, IPython.

A worker process imports its executor class by reference, which a class typed into a session
does not have. Here the session's source is recovered (``sys.orig_argv`` after ``-c``; the cell
history ``In`` of IPython and Jupyter, with magics translated when IPython is importable) and
its *definitions* are written to a small file, which the worker imports like any file module:

- kept: ``import`` statements, ``def``/``async def``/``class`` statements, and assignments of
  literal values (``N_DIM = 128``); for a name defined several times, every definition is kept
  in order, so the last one wins as it did in the session;
- dropped: every other statement (building or starting a Flow, loading data, ``if`` blocks), so
  the worker does not re-run the session.

Limits: module-level objects that are not literals (``model = load()``) do not exist in the
worker; load them in the executor's ``__init__`` or pass them with ``uses_with``. A class the
session built dynamically (``type(...)``, ``exec``) or whose source cannot be recovered (an
interpreter read from stdin) cannot be used and fails with an explanation. The file is named by
a hash of its text under the temporary directory, so an unchanged session reuses it.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from ..errors import ExecutorLoadError

__all__ = ["definitions_file", "session_sources"]

_KEPT = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def session_sources(main: ModuleType | None = None) -> list[str]:
    """The source chunks of an interactive ``__main__``, oldest first ([] if unknown)."""
    main = main if main is not None else sys.modules.get("__main__")
    cells = getattr(main, "In", None) or getattr(main, "_ih", None)
    if isinstance(cells, list) and cells:
        return [_ipython_to_python(c) for c in cells if isinstance(c, str) and c.strip()]
    argv = getattr(sys, "orig_argv", [])
    if "-c" in argv[:-1]:
        return [argv[argv.index("-c") + 1]]
    return []


def _ipython_to_python(cell: str) -> str:
    try:
        from IPython.core.inputtransformer2 import (  # type: ignore[import-not-found]
            TransformerManager,
        )
    except ImportError:
        return cell
    transformed: str = TransformerManager().transform_cell(cell)
    return transformed


def _definitions(sources: Iterable[str]) -> list[ast.stmt]:
    kept: list[ast.stmt] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a cell that never ran either
        kept.extend(node for node in tree.body if isinstance(node, _KEPT) or _literal(node))
    # `from __future__` imports must come first in a module.
    kept.sort(key=lambda n: not (isinstance(n, ast.ImportFrom) and n.module == "__future__"))
    return kept


def _literal(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        value: ast.expr | None = node.value
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        value = node.value
    else:
        return False
    if value is None:
        return False
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def definitions_file(qualname: str, sources: list[str] | None = None,
                     directory: Path | None = None) -> Path:
    """Write the session's definitions to a file and return its path; raise ExecutorLoadError
    if the session's source is unknown or does not define `qualname`'s outer class."""
    sources = session_sources() if sources is None else sources
    if not sources:
        raise ExecutorLoadError(
            f"class {qualname!r} is defined in an interactive session whose source cannot be "
            "recovered (only `python -c`, IPython and Jupyter are supported); move it to a "
            "module so worker processes can import it"
        )
    nodes = _definitions(sources)
    top = qualname.split(".")[0]
    if not any(isinstance(n, ast.ClassDef) and n.name == top for n in nodes):
        raise ExecutorLoadError(
            f"class {qualname!r} is not defined by a top-level class statement of this "
            "session; define it with `class` at the top level, or move it to a module"
        )
    text = ("# Definitions of an interactive session, written by flowserve for its workers.\n"
            + ast.unparse(ast.Module(body=nodes, type_ignores=[])) + "\n")
    digest = hashlib.sha1(text.encode()).hexdigest()[:16]
    folder = directory or Path(tempfile.gettempdir()) / f"flowserve-session-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"session_{digest}.py"
    if not path.is_file():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # atomic: a concurrent writer writes the same text
    return path
