"""Disclosure-control checks: a pure library (no web code) used by the egress service and the notebook
wrappers. Imports only the standard library, pandas, numpy, pyarrow, openpyxl, pyyaml, pydantic, pillow.

Names are loaded on first use (PEP 562): the egress service reads the policy at start-up but runs the
checks in worker processes, so its own process need not hold pandas and pyarrow."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "CheckContext": "egress_review.checks.api",
    "FileReport": "egress_review.checks.api",
    "Flag": "egress_review.checks.api",
    "PendingTable": "egress_review.checks.api",
    "check_file": "egress_review.checks.api",
    "report_json": "egress_review.checks.api",
    "strip_image_metadata": "egress_review.checks.api",
    "load_disclosure_policy": "egress_review.checks.policy",
    "DisclosurePolicy": "egress_review.checks.policy",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
