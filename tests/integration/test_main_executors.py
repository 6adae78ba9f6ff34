"""Executors defined in ``__main__``: ``python -c`` (no file) and a script file, each run with
the local Flow in a subprocess of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from procs import child_env

pytestmark = pytest.mark.integration

DEFINE = """
from flowserve import Document, DocumentArray, Executor, Flow, requests

SUFFIX = "!"

class Shout(Executor):
    @requests
    def shout(self, docs, **kwargs):
        for doc in docs:
            doc.text = doc.text.upper() + SUFFIX
"""

RUN = """
with Flow().add(uses=Shout) as flow:
    print("RESULT", flow.post("/", DocumentArray([Document(text="hi")])).texts)
"""


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=child_env(), timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_executor_defined_in_python_c(tmp_path: Path) -> None:
    out = _run(["-c", DEFINE + RUN], tmp_path)
    assert "RESULT ['HI!']" in out


def test_executor_defined_in_a_script(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(DEFINE + "\nif __name__ == '__main__':\n" + textwrap.indent(RUN, "    "))
    out = _run([str(script)], tmp_path)
    assert "RESULT ['HI!']" in out
