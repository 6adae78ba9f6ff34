"""A nested class inside a package module (test fixture)."""

from ._base import Base


class Outer:
    """Holds an Executor class, reachable as fs_pkg.nested.Outer.Inner."""

    class Inner(Base):
        """A nested Executor subclass."""
