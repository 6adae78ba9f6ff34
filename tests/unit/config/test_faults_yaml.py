"""Faults #10: YAML aliases that expand beyond a small bound are refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowserve.config.executor_yaml import read_executor_yaml
from flowserve.config.spec import load_flow
from flowserve.errors import ConfigError, ExecutorLoadError


def _laughs(levels: int, indent: str) -> str:
    """Anchors a0..a<levels>, each a list of ten aliases of the previous one."""
    rows = [f"{indent}a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"{indent}a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]"
             for i in range(1, levels + 1)]
    return "\n".join(rows) + "\n"


def test_a_flow_yaml_with_nested_aliases_is_refused(tmp_path: Path) -> None:
    """Before: 10^5 leaves loaded (0.3 s, growing tenfold per level; 3 s and 410 MB at 10^6)."""
    path = tmp_path / "flow.yml"
    path.write_text("jtype: Flow\nexecutors:\n  - name: e\n    uses: toy_executors:NoOp\n"
                    "    uses_with:\n" + _laughs(4, "      "))
    with pytest.raises(ConfigError, match=r"flow\.yml:1: invalid YAML: aliases expand to \d+"):
        load_flow(path)


def test_a_self_referring_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("jtype: Flow\nexecutors: &a\n  - name: e\n    uses: toy_executors:NoOp\n"
                    "    uses_with: {x: *a}\n")
    with pytest.raises(ConfigError, match="flow.yml:2: invalid YAML: an alias refers to a node "
                                          "that contains it"):
        load_flow(path)


def test_an_executor_yaml_with_nested_aliases_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ex.yml").write_text("jtype: NoOp\nwith:\n" + _laughs(4, "  "))
    with pytest.raises(ExecutorLoadError, match="invalid YAML: aliases expand"):
        read_executor_yaml("ex.yml", tmp_path, "e")


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("jtype: Flow\nexecutors:\n  - name: a\n    uses: toy_executors:NoOp\n"
                    "    env: &env {MODE: fast}\n  - name: b\n    uses: toy_executors:NoOp\n"
                    "    env: *env\n")
    assert load_flow(path).executors[1].env == {"MODE": "fast"}
