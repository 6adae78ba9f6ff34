"""Fixtures of the export tests; the sample Flows and validators live in export_helpers.py."""

from __future__ import annotations

from export_helpers import (  # noqa: F401  (fixtures are found by name)
    compose_config,
    crd_errors,
    custom_schemas,
    demo,
    demo_spec,
    k8s_errors,
    kitchen,
    kitchen_spec,
)
