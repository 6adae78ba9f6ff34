"""Executors defined in a ``__main__`` without a file: the session's definitions as a file."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from flowserve.config.imports import import_file
from flowserve.config.main_source import definitions_file, session_sources
from flowserve.errors import ExecutorLoadError

SESSION = '''
from flowserve import Executor, requests
import numpy as np
N = 3
data = np.load("missing.npy")
class Upper(Executor):
    @requests
    def run(self, docs, **kwargs):
        for d in docs:
            d.text = d.text.upper() * N
Flow().add(uses=Upper).start()
'''


def test_keeps_imports_classes_and_literals_only(tmp_path: Path) -> None:
    path = definitions_file("Upper", [SESSION], directory=tmp_path)
    text = path.read_text()
    assert "class Upper" in text and "N = 3" in text and "import numpy as np" in text
    assert "np.load" not in text and "Flow()" not in text
    module = import_file(str(path), tmp_path, "executor 'x'", "test")
    assert module.Upper.__name__ == "Upper"
    assert definitions_file("Upper", [SESSION], directory=tmp_path) == path  # by content


def test_later_cells_redefine_and_future_import_goes_first(tmp_path: Path) -> None:
    cells = ["class A:\n    x = 1", "from __future__ import annotations", "class A:\n    x = 2",
             "%timeit 1 +"]
    path = definitions_file("A", cells, directory=tmp_path)
    module = import_file(str(path), tmp_path, "executor 'x'", "test")
    assert module.A.x == 2


def test_unknown_source_or_class_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ExecutorLoadError, match="cannot be recovered"):
        definitions_file("A", [], directory=tmp_path)
    with pytest.raises(ExecutorLoadError, match="top-level class statement"):
        definitions_file("B", ["class A: pass"], directory=tmp_path)


def test_ipython_history_is_the_source() -> None:
    main = types.ModuleType("__main__")
    main.In = ["", "class A: pass", "x = 1"]  # type: ignore[attr-defined]
    assert [s.strip() for s in session_sources(main)] == ["class A: pass", "x = 1"]
