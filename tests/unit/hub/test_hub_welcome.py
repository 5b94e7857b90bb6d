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


def _dataset(columns: list[tuple[str, ...]]) -> ProjectDatasetInfo:
    return ProjectDatasetInfo(
        dataset="sick_leave", description="Monthly sick leave per employee",
        columns=[DatasetColumnInfo(name=c[0], role=c[1], transformation=c[2] if len(c) > 2 else "keep") for c in columns],
        extract_files=["sick_leave.parquet", "sick_leave.csv"],
    )


def test_notebook_names_the_project_its_datasets_and_columns():
    ds = _dataset([("employee_pseudonym", "direct_identifier", "pseudonymise"), ("service_area", "quasi_identifier"), ("year", "other"), ("sick_leave_pct", "sensitive")])
    nb = json.loads(render_welcome_notebook(_project(), [ds]))
    text = "\n".join(c["source"] for c in nb["cells"])
    assert nb["nbformat"] == 4 and all(c["id"] for c in nb["cells"])
    assert "Sick leave in care services" in text and "Find what drives long absences." in text
    assert "`/data/sick_leave.parquet`" in text
    for col in ("employee_pseudonym", "service_area", "year", "sick_leave_pct"):
        assert f"`{col}`" in text
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert 'pd.read_parquet("/data/sick_leave.parquet")' in code
    assert 'pivot_table(df, index="service_area", columns="year", values="sick_leave_pct", aggfunc="mean",' in code
    assert 'entity="employee_pseudonym")' in code
    assert '{"sick_leave_pct_by_service_area_and_year.csv": result}' in code  # a meaningful export name
    assert "result.outcome" in code and "result.protected" in code and 'print(f"{f.name}: {f.verdict}")' in code


def test_legal_basis_and_dpia_read_as_sentences():
    """Folded YAML ends the legal basis with a newline after its own full stop: no ". . DPIA"."""
    project = _project().model_copy(update={"legal_basis": "GDPR art. 6(1)(e); Arbeidsmiljøloven § 3-1 (HSE work).\n"})
    text = json.loads(render_welcome_notebook(project, []))["cells"][0]["source"]
    assert "**Legal basis.** GDPR art. 6(1)(e); Arbeidsmiljøloven § 3-1 (HSE work).\n" in text
    assert ". ." not in text and "(DPIA).** DPIA-7." in text


def test_episodes_and_staff_give_the_sick_leave_percentage():
    episodes = ProjectDatasetInfo(
        dataset="sick-leave", description="episodes", extract_files=["sick-leave.parquet"],
        columns=[DatasetColumnInfo(name=n, role=r, transformation=t) for n, r, t in [
            ("national_id", "direct_identifier", "pseudonymise"), ("service_area", "quasi_identifier", "keep"),
            ("employment_pct", "quasi_identifier", "keep"), ("start_date", "other", "keep"), ("days", "other", "keep")]])
    staff = ProjectDatasetInfo(
        dataset="staff", description="register", extract_files=["staff.csv"],
        columns=[DatasetColumnInfo(name=n, role=r, transformation=t) for n, r, t in [
            ("national_id", "direct_identifier", "pseudonymise"), ("service_area", "quasi_identifier", "keep"),
            ("contracted_days", "other", "keep")]])
    nb = json.loads(render_welcome_notebook(_project(), [staff, episodes]))
    code = "\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert 'episodes = pd.read_parquet("/data/sick-leave.parquet")' in code and 'staff = pd.read_csv("/data/staff.csv")' in code
    assert 'episodes["days"] * episodes["employment_pct"] / 100' in code
    assert 'values="sick_leave_pct", aggfunc="mean",' in code and 'entity="national_id")' in code


def test_other_datasets_get_an_example_from_their_column_roles():
    ds = _dataset([("person", "direct_identifier", "pseudonymise"), ("unit", "quasi_identifier", "keep"),
                   ("birth_date", "quasi_identifier", "generalise:age10"), ("gender", "quasi_identifier", "keep"),
                   ("salary", "sensitive", "keep")])
    code = "\n".join(c["source"] for c in json.loads(render_welcome_notebook(_project(), [ds]))["cells"]
                     if c["cell_type"] == "code")
    # generalised columns group first (coarse by design), the pseudonym is the entity
    assert 'crosstab(df["birth_date"], df["unit"], entity=df["person"])' in code
    assert '{"people_by_birth_date_and_unit.csv": result}' in code


def test_without_a_person_column_there_is_no_runnable_example():
    nb = json.loads(render_welcome_notebook(_project(), [_dataset([("a", "other"), ("b", "other")])]))
    assert not [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("request_export" in c["source"] for c in nb["cells"])


def test_no_project_is_an_error():
    with pytest.raises(ValueError):
        render_welcome_notebook(None, [])


@pytest.mark.parametrize("slug", ["sick-leave-2026", "turnover-2026"])
def test_worked_example_runs_on_the_demo_projects_real_extracts(slug, tmp_path, monkeypatch):
    """The demo's own provisioning (synthetic data, declared projects, pseudonymised extracts) and the
    notebook generated from its catalogue: every code cell up to the export runs, in order, in one
    namespace, as a kernel would (the export itself runs in the sandbox: tests/e2e/hub/test_welcome_notebook.py)."""
    import base64
    import os

    from provisioning import api, db as pdb
    from provisioning.demo import seed_demo
    from sandkasse.db import make_engine, make_sessionmaker
    from sandkasse.settings import get_settings

    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SANDKASSE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'sandkasse.db'}"
    engine = make_engine(url)
    pdb.migrate(engine=engine)
    seed_demo(url, tmp_path / "var", employees=1500)
    with make_sessionmaker(engine)() as s:
        project, datasets = api.get_project(s, slug), api.project_datasets(s, slug)
    engine.dispose()
    nb = json.loads(render_welcome_notebook(project, datasets, data_mount=str(api.extract_dir(slug))))
    namespace: dict = {}
    ran = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "request_export(" in cell["source"]:
            break
        exec(compile(cell["source"], f"<cell {len(ran)}>", "exec"), namespace)
        ran.append(cell["source"])
    result = namespace["result"]
    assert len(ran) == 4 and result.table.size > 0
    assert result.protected.shape == result.outcome.shape == result.table.shape
    if slug == "sick-leave-2026":
        assert result.command == "pivot_table" and result.entity == "national_id"
        assert 0 < float(result.table.stack().mean()) < 40  # a percentage, not a day count
    else:
        assert result.command == "crosstab" and result.entity == "national_id"
