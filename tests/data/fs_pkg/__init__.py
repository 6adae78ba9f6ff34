"""A package resolved from the Flow file's directory (test fixture)."""
