"""Disclosure-control checks: a pure library (no web code) used by the egress service and the notebook
wrappers. Imports only the standard library, pandas, numpy, pyarrow, openpyxl, pyyaml, pydantic, pillow."""

from egress_review.checks.api import (
    CheckContext,
    FileReport,
    Flag,
    check_file,
    load_disclosure_policy,
    report_json,
    strip_image_metadata,
)
from egress_review.checks.policy import DisclosurePolicy

__all__ = ["CheckContext", "DisclosurePolicy", "FileReport", "Flag", "check_file", "load_disclosure_policy",
           "report_json", "strip_image_metadata"]
