"""The contract the egress service relies on: names, fields and signatures of egress_review.checks."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import egress_review.checks as checks

pytestmark = pytest.mark.unit


def test_models_have_the_agreed_fields():
    assert list(checks.Flag.model_fields) == ["rule", "severity", "message", "row", "column",
                                                "checker_detail"]
    assert list(checks.FileReport.model_fields) == ["verdict", "file_type", "flags", "unverifiable", "suggested_csv",
                                                    "cell_outcome", "replay"]
    ctx = checks.CheckContext()
    assert (ctx.identifier_values, ctx.non_identifier_values, ctx.released_tables, ctx.entitled_row_count,
            ctx.person_level) == (set(), set(), [], None, True)


def test_check_file_signature():
    sig = inspect.signature(checks.check_file)
    params = sig.parameters
    assert list(params) == ["path", "declared_name", "sidecar", "policy", "context"]
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("declared_name", "sidecar", "policy",
                                                                           "context"))
    assert sig.return_annotation in (checks.FileReport, "FileReport")


def test_every_flag_rule_name_is_from_the_agreed_vocabulary(tmp_path):
    vocabulary = {"threshold", "zero", "nk", "p_percent", "negative", "missing", "dof", "identifier", "record_level",
                  "differencing", "file_type", "size", "archive", "notebook", "unverifiable", "replay"}
    p = tmp_path / "t.csv"
    p.write_text("bydel,K,M\nGrefsen,40,35\nSagene,0,31\nola@example.no,12,13\n")
    report = checks.check_file(p, declared_name="x.txt", policy=checks.DisclosurePolicy())
    assert report.flags and {f.rule for f in report.flags} <= vocabulary
    assert all(f.message and f.severity in ("fail", "review") for f in report.flags)
    assert checks.FileReport.model_validate_json(checks.report_json(report)) == report
    assert isinstance(checks.strip_image_metadata, type(checks.check_file))
    assert Path(checks.__file__).parent.name == "checks"
