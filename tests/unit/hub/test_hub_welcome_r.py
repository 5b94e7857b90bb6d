"""Welcome-R.ipynb (issue 17.3): the R twin of the welcome notebook describes the same project and exports
the same worked example under the same name, with the R kernel; it is written only for an image that
says it has R."""

from __future__ import annotations

import json
import re

import pytest

from hub.welcome import render_welcome_notebook
from hub.welcome_r import image_has_r, render_welcome_r_notebook
from provisioning.api import DatasetColumnInfo, ProjectDatasetInfo
from tests.unit.hub.test_hub_welcome import _dataset, _project

pytestmark = pytest.mark.unit


def _export_name(nb: dict) -> str:
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    return re.search(r'["{(]"?([\w.]+\.csv)"', code).group(1)


@pytest.mark.parametrize("columns, call", [
    ([("employee_pseudonym", "direct_identifier", "pseudonymise"), ("service_area", "quasi_identifier"),
      ("year", "other"), ("sick_leave_pct", "sensitive")],
     'sdc_table(df, rows = "service_area", cols = "year", values = "sick_leave_pct", fun = "mean"'),
    ([("employee_pseudonym", "direct_identifier", "pseudonymise"), ("age_band", "quasi_identifier", "generalise:age10"),
      ("gender", "quasi_identifier")],
     'sdc_crosstab(df, rows = "age_band", cols = "gender", entity = "employee_pseudonym")'),
])
def test_the_r_twin_runs_the_same_example_in_r(columns, call):
    ds = _dataset(columns)
    py = json.loads(render_welcome_notebook(_project(), [ds]))
    nb = json.loads(render_welcome_r_notebook(_project(), [ds]))
    assert nb["metadata"]["kernelspec"] == {"display_name": "R", "language": "R", "name": "ir"}
    assert nb["nbformat"] == 4 and len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    assert [c["source"] for c in nb["cells"][:3]] == [c["source"] for c in py["cells"][:3]]  # project, places, data
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert "library(sdc)" in code and 'sdc_read_extract("/data/sick_leave.parquet")' in code
    assert call in code and "result$outcome" in code and "result$protected" in code and "request_export(" in code
    assert _export_name(nb) == _export_name(py)
    assert "import " not in code and "pd." not in code  # R, not Python


def test_episodes_and_staff_in_r():
    episodes = ProjectDatasetInfo(
        dataset="sick-leave", description="episodes", extract_files=["sick-leave.parquet"],
        columns=[DatasetColumnInfo(name=n, role=r, transformation=t) for n, r, t in [
            ("national_id", "direct_identifier", "pseudonymise"), ("employment_pct", "quasi_identifier", "keep"),
            ("start_date", "other", "keep"), ("days", "other", "keep")]])
    staff = ProjectDatasetInfo(
        dataset="staff", description="register", extract_files=["staff.parquet"],
        columns=[DatasetColumnInfo(name=n, role=r, transformation=t) for n, r, t in [
            ("national_id", "direct_identifier", "pseudonymise"), ("service_area", "quasi_identifier", "keep"),
            ("contracted_days", "other", "keep")]])
    code = "\n".join(c["source"] for c in json.loads(render_welcome_r_notebook(_project(), [episodes, staff]))["cells"]
                     if c["cell_type"] == "code")
    assert "episodes$lost_days <- episodes$days * episodes$employment_pct / 100" in code
    assert 'list("sick_leave_pct_by_service_area_and_year.csv" = result)' in code


def test_only_an_image_that_says_so_has_r():
    assert image_has_r({"org.sandkasse.r": "yes"})
    assert not image_has_r({"org.sandkasse.r": "no"}) and not image_has_r({}) and not image_has_r(None)
