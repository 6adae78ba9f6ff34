"""The executor name `flowserve executor` uses when --name is not given."""

from __future__ import annotations

import pytest

from flowserve.cli.main import _default_name


@pytest.mark.parametrize(("uses", "name"), [
    ("executor:HeavyExecutorLinkerdDemo", "HeavyExecutorLinkerdDemo"),
    ("pkg.encoders.Clip", "Clip"),
    ("configs/clip.yml", "clip"),
    ("encoders/clip.py:Clip", "Clip"),
    (None, "executor"),
])
def test_default_executor_name(uses, name):
    assert _default_name(uses) == name
