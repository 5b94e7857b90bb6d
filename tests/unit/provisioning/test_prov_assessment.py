"""Pre-assessment of crafted applications on the synthetic data: DPIA screening, data minimisation,
k/l as asked and as suggested (from the risk report), and nothing but aggregate figures."""

import pandas as pd
import pytest

from provisioning.applications.assessment import extract_as_asked, load_assessment_policy, pre_assess, read_sources
from provisioning.policy import current
from provisioning.risk import risk_report
from tests.unit.provisioning.application_data import START, application, metas, synth_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.unit

HEALTH = {"national_id": "pseudonymise", "birth_date": "generalise:age10", "gender": "keep", "service_area": "keep",
          "days": "keep", "diagnosis_group": "keep"}
COARSE_STAFF = {"national_id": "pseudonymise", "birth_date": "generalise:age10", "gender": "keep", "council_area": "keep",
                "employment_pct": "keep"}


def assess(metas, content):
    return pre_assess(content, metas, read_sources(content, metas))


def test_health_data_about_employees_requires_a_dpia(metas):
    result = assess(metas, application({"sick-leave": HEALTH}, legal_basis_art9="9(2)(j)"))
    assert result.dpia.required
    met = {c.id for c in result.dpia.criteria if c.met}
    assert {"EDPB-4", "EDPB-7"} <= met  # special category (diagnosis group), employees
    assert "diagnosis_group" in next(c.evidence for c in result.dpia.criteria if c.id == "EDPB-4")
    assert any("diagnosis_group" in r for r in result.dpia.reasons)
    assert not [f for f in result.findings if f.kind == "special_category_without_art9"]


def test_one_criterion_alone_needs_no_dpia(metas):
    """Staff data without health data: employees (criterion 7) and 15,000 people (large scale) make two;
    where large scale starts above the register's size, one criterion is left and no DPIA is needed."""
    content = application({"staff": COARSE_STAFF})
    assert assess(metas, content).dpia.required
    policy = load_assessment_policy()
    policy.dpia.large_scale_people = 20_000
    result = pre_assess(content, metas, read_sources(content, metas), assessment_policy=policy)
    assert not result.dpia.required
    assert {c.id for c in result.dpia.criteria if c.met} == {"EDPB-7"}
    assert "no item of Datatilsynet's list" in result.dpia.reasons[0]


def test_purpose_and_combination_add_criteria(metas):
    content = application({"staff": COARSE_STAFF, "sick-leave": {"national_id": "pseudonymise", "days": "keep"}},
                          purpose="Train a machine learning model to predict long sick leave")
    met = {c.id for c in assess(metas, content).dpia.criteria if c.met}
    assert {"EDPB-1", "EDPB-6", "EDPB-8", "DT-innovative"} <= met


def test_health_data_without_an_art9_basis_blocks(metas):
    result = assess(metas, application({"sick-leave": HEALTH}))
    assert [f.kind for f in result.blocking] == ["special_category_without_art9"]


def test_a_granted_name_column_is_flagged_and_dropped_in_the_suggestion(metas):
    content = application({"staff": {**COARSE_STAFF, "last_name": "keep", "address": "pseudonymise"}})
    result = assess(metas, content)
    kept = [f for f in result.findings if f.kind == "direct_identifier_kept"]
    assert [(f.column, f.severity) for f in kept] == [("last_name", "block")]
    assert {f.column for f in result.findings if f.kind == "direct_identifier"} == {"national_id", "address"}
    (staff,) = result.datasets
    assert staff.suggested["last_name"] == "drop" and staff.suggested["address"] == "drop"
    assert staff.suggested["national_id"] == "pseudonymise"


def test_columns_without_justification_and_unknown_columns_are_flagged(metas):
    content = application({"staff": {**COARSE_STAFF, "unit": "keep", "salary": "keep"}}, unjustified=("unit",))
    result = assess(metas, content)
    assert {(f.kind, f.column) for f in result.findings} >= {("no_justification", "unit"), ("unknown_column", "salary")}
    assert result.datasets[0].suggested["unit"] == "drop"


def test_k_as_asked_and_as_suggested_are_the_risk_reports(metas):
    """The quasi-identifier combination asked (exact birth date, unit, job) is flagged; the suggestion
    reaches the policy's k; both figures are what the risk report gives on the same extracts."""
    asked = {"national_id": "pseudonymise", "birth_date": "keep", "gender": "keep", "unit": "keep", "job_title": "keep",
             "days": "keep", "diagnosis_group": "keep"}
    content = application({"sick-leave": asked}, legal_basis_art9="9(2)(j)")
    result = assess(metas, content)
    (ds,) = result.datasets
    policy = current()
    assert ds.as_asked.k < policy.risk.min_k and not ds.as_asked.meets_k
    assert any(f.kind == "quasi_identifiers_below_k" for f in result.findings)
    assert ds.as_suggested.k >= policy.risk.min_k and ds.as_suggested.meets_k
    assert ds.suggested["birth_date"] != "keep"  # an exact birth date is never suggested

    source = pd.read_parquet(metas["sick-leave"].source)
    for grant, figures in ((asked, ds.as_asked), (ds.suggested, ds.as_suggested)):
        frame, described = extract_as_asked(source, metas["sick-leave"], grant, reference=START, policy=policy)
        qis = [d["name"] for d in described if d["role"] == "quasi_identifier"]
        report = risk_report(frame, qis, ["diagnosis_group"], min_k=policy.risk.min_k, min_l=policy.risk.min_l)
        assert figures.k == report["summary"]["k"] and figures.classes == report["summary"]["classes"]
        assert figures.records_below_k == report["summary"]["records_below_k"]
        assert figures.l["diagnosis_group"] == report["l_diversity"]["diagnosis_group"]["l"]
    effects = {e.column: e.k_without for e in ds.quasi_identifier_effects}
    assert set(effects) == {"birth_date", "gender", "unit", "job_title"}


def test_the_assessment_holds_aggregates_only(metas):
    """No value of a row reaches the assessment: not the identifiers, not the rare combinations the
    risk report's "highest-risk records" list (which the assessment leaves out)."""
    content = application({"staff": {"national_id": "pseudonymise", "first_name": "keep", "last_name": "keep",
                                     "address": "keep", "birth_date": "keep", "unit": "keep", "job_title": "keep"}})
    result = assess(metas, content)
    text = result.model_dump_json()
    staff = pd.read_parquet(metas["staff"].source)
    for column in ("national_id", "address", "unit", "job_title"):
        assert not any(str(v) in text for v in staff[column].unique()), column
    assert not any(f'"{v}"' in text for v in staff["last_name"].unique())
    for name in staff.birth_date.dt.strftime("%Y-%m-%d").unique()[:2000]:
        assert name not in text
    assert "highest_risk" not in text and "row" not in result.datasets[0].as_asked.model_dump()


def test_unknown_datasets_and_transformations_that_do_not_fit_are_blocking_findings(metas):
    content = application({"payroll": {"salary": "keep"},
                           "staff": {"national_id": "pseudonymise", "unit": "generalise:age10", "gender": "shuffle"}})
    result = assess(metas, content)
    kinds = {(f.dataset, f.kind) for f in result.blocking}
    assert ("payroll", "unknown_dataset") in kinds
    assert ("staff", "bad_transformation") in kinds
    assert any(f.column == "gender" and "unknown transformation" in f.message for f in result.blocking)
    # the failed build is reported without the values that made it fail
    assert not any("Byåsen" in f.message for f in result.findings)
