"""The welcome notebook is generated from provisioning data and carries the worked example."""

from __future__ import annotations

import json
from datetime import date

import pytest

from hub.welcome import render_welcome_notebook
from provisioning.api import DatasetColumnInfo, ProjectDatasetInfo, ProjectInfo

pytestmark = pytest.mark.unit


def _project() -> ProjectInfo:
    return ProjectInfo(
        slug="sick-2026", title="Sick leave in care services", purpose="Find what drives long absences.",
        legal_basis="GDPR art. 6(1)(e)", dpia_reference="DPIA-7", status="active",
        start_date=date(2026, 1, 1), end_date=date(2026, 12, 31), members={"kari": "researcher"},
    )


def _dataset(columns: list[tuple[str, str]]) -> ProjectDatasetInfo:
    return ProjectDatasetInfo(
        dataset="sick_leave", description="Monthly sick leave per employee",
        columns=[DatasetColumnInfo(name=n, role=r, transformation="keep") for n, r in columns],
        extract_files=["sick_leave.parquet", "sick_leave.csv"],
    )


def test_notebook_names_the_project_its_datasets_and_columns():
    ds = _dataset([("employee_pseudonym", "direct_identifier"), ("service_area", "quasi_identifier"), ("year", "other"), ("sick_leave_pct", "sensitive")])
    nb = json.loads(render_welcome_notebook(_project(), [ds]))
    text = "\n".join(c["source"] for c in nb["cells"])
    assert nb["nbformat"] == 4 and all(c["id"] for c in nb["cells"])
    assert "Sick leave in care services" in text and "Find what drives long absences." in text
    assert "`/data/sick_leave.parquet`" in text
    for col in ("employee_pseudonym", "service_area", "year", "sick_leave_pct"):
        assert f"`{col}`" in text
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert 'pd.read_parquet("/data/sick_leave.parquet")' in code
    assert 'pivot_table(df, index="service_area", columns="year", values="sick_leave_pct", aggfunc="mean", entity="employee_pseudonym")' in code
    assert "request_export(" in code


def test_without_recognisable_columns_the_example_stays_generic():
    nb = json.loads(render_welcome_notebook(_project(), [_dataset([("a", "other"), ("b", "other")])]))
    assert not [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("request_export" in c["source"] for c in nb["cells"])


def test_no_project_is_an_error():
    with pytest.raises(ValueError):
        render_welcome_notebook(None, [])
