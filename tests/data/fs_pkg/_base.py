"""Relative-import target of fs_pkg.nested (test fixture)."""

from flowserve.executor import Executor


class Base(Executor):
    """A module-level Executor subclass."""
