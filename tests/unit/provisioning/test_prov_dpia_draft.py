"""The DPIA draft: pre-filled from the application, the catalogue, the pre-assessment's figures and the
TRE's controls parsed from docs/security.md; Markdown and PDF; no row values."""

import re

import pandas as pd
import pytest

from provisioning.applications import dpia_draft
from provisioning.applications.assessment import pre_assess, read_sources
from tests.unit.provisioning.application_data import application, metas, synth_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.unit

ASKED = {"national_id": "pseudonymise", "birth_date": "keep", "gender": "keep", "unit": "keep", "first_name": "keep",
         "days": "keep", "diagnosis_group": "keep"}


@pytest.fixture(scope="module")
def drafted(metas):
    content = application({"sick-leave": ASKED}, legal_basis_art9="9(2)(j)", rek_reference="REK 2026/123",
                          purpose="Describe sick leave by unit and diagnosis group to target measures")
    assessment = pre_assess(content, metas, read_sources(content, metas))
    markdown, pdf = dpia_draft.draft(content, assessment, metas, reference="APP-7")
    return content, assessment, markdown, pdf


def test_tables_are_parsed_with_escaped_pipes():
    tables = dpia_draft.parse_tables("## A\n\n| x | y |\n|---|---|\n| `a\\|b` | c |\n\ntext\n## B\n| q |\n|---|\n| 1 |\n")
    assert tables == {"A": [["x", "y"], ["`a|b`", "c"]], "B": [["q"], ["1"]]}


def test_every_threat_of_the_security_doc_is_a_measure_in_the_draft(drafted):
    _, _, markdown, _ = drafted
    safes, controls = dpia_draft.load_security_controls()
    assert safes[0] == ["Safe", "Meaning", "Sandkasse features"] and len(safes) == 6
    assert len(controls) > 40 and all(c.tests for c in controls)
    assert not any(c.control.startswith("Removed") for c in controls)
    for control in controls:
        assert dpia_draft._md_cell(control.threat) in markdown, control.threat
    assert "### Data (safe data, pseudonymisation keys)" in markdown


def test_draft_is_prefilled_from_application_catalogue_and_figures(drafted):
    content, assessment, markdown, _ = drafted
    assert content.purpose in markdown and "REK 2026/123" in markdown and "GDPR art. 9(2)(j)" in markdown
    assert "DPIA (screening) | REQUIRED" in markdown
    assert "Folketrygdloven kapittel 8" in markdown  # legal basis of collection, from the catalogue
    (ds,) = assessment.datasets
    assert f"| sick-leave | as asked | {ds.as_asked.records:,} |" in markdown
    assert f"{ds.as_asked.k} (min 5)" in markdown and f"{ds.as_suggested.k} (min 5)" in markdown
    assert "| first_name | direct_identifier | First name | keep | drop |" in markdown
    assert "[block] sick-leave.first_name" in markdown
    for section in ("art. 35(7)(a)", "art. 35(7)(b)", "art. 35(7)(c)", "art. 35(7)(d)", "The DPO's assessment"):
        assert section in markdown
    assert markdown.count(dpia_draft.TODO) >= 5


def test_pdf_is_a_whole_document(drafted):
    _, _, _, pdf = drafted
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    assert pages >= 4
    assert b"/Title (DPIA draft: Crafted application)" in pdf


def test_draft_holds_no_row_values(drafted, metas):
    _, _, markdown, _ = drafted
    source = pd.read_parquet(metas["sick-leave"].source, columns=["national_id", "first_name", "unit", "birth_date"])
    assert not any(v in markdown for v in source.national_id.unique())
    assert not any(f"| {v} |" in markdown for v in source.first_name.astype(str).unique())
    assert not any(v in markdown for v in source.birth_date.dt.strftime("%Y-%m-%d").unique())
