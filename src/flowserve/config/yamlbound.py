"""Refuse YAML whose aliases expand beyond a small bound ("billion laughs").

`yaml.safe_load` shares an aliased node instead of copying it, but everything that walks the
data afterwards (the line map, schema validation, JSON for a child's command line) expands it:
a 500-byte file with nested aliases became 10^6 leaves, 3 s and 400 MB, and more beyond. The
expanded size is counted on the composed node graph, once per distinct node, before anything
walks it.
"""

from __future__ import annotations

import yaml

__all__ = ["MAX_ALIAS_EXPANSION", "AliasExpansionError", "alias_problem", "load_bounded"]

MAX_ALIAS_EXPANSION = 10_000
"""How many nodes aliases may add to a document once expanded (a real config adds a few)."""


class AliasExpansionError(Exception):
    """Aliases that expand too far (or refer to themselves), at `line` of the document."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def load_bounded(text: str) -> tuple[yaml.Node | None, object]:
    """(composed node, data) of one YAML document, parsed once with the safe loader.

    Raises `AliasExpansionError` before constructing anything when aliases expand too far,
    and `yaml.YAMLError` for invalid YAML."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        refused = alias_problem(node)
        if refused is not None:
            raise AliasExpansionError(*refused)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def alias_problem(root: yaml.Node | None) -> tuple[int, str] | None:
    """(line, reason) when aliases in `root` expand too far or refer to themselves, else None."""
    if root is None:
        return None
    sizes: dict[int, int] = {}  # id(node) -> expanded size; -1 while its children are counted
    cycle: list[yaml.Node] = []

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            if known < 0 and not cycle:
                cycle.append(node)
            return max(known, 0)
        sizes[id(node)] = -1
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        sizes[id(node)] = total
        return total

    expanded = size(root)
    if cycle:
        return cycle[0].start_mark.line + 1, "an alias refers to a node that contains it"
    if expanded - len(sizes) > MAX_ALIAS_EXPANSION:
        return root.start_mark.line + 1, (
            f"aliases expand to {expanded} nodes from {len(sizes)} (more than "
            f"{MAX_ALIAS_EXPANSION} added); write the values out or drop the aliases")
    return None
