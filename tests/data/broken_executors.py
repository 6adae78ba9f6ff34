"""A module whose import fails (test fixture for import errors)."""

import numpyy  # noqa: F401  (deliberately misspelled)
