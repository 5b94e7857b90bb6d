"""Applications against the real extract builder on a real database: k as asked and as suggested equal
the builder's risk report for the same grants; the synthetic twin has the built extract's columns,
dtypes and category sets; the catalogue exports as DCAT-AP-NO from ``sandkasse-admin``."""

import json

import pandas as pd
import pytest
from rdflib import Graph
from rdflib.namespace import DCAT, DCTERMS, RDF
from typer.testing import CliRunner

from provisioning import api, service
from provisioning.applications.assessment import pre_assess_from_catalogue
from provisioning.applications.twin import is_synthetic, make_twin, write_twin
from provisioning.catalogue_meta import load_catalogue
from provisioning.cli import app
from provisioning.extracts import build_project_extracts
from provisioning.synth import generate, write
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import START, make_project
from tests.unit.provisioning.application_data import application

pytestmark = pytest.mark.integration

ASKED = {"national_id": "pseudonymise", "first_name": "drop", "birth_date": "keep", "gender": "keep", "unit": "keep",
         "job_title": "keep", "start_date": "generalise:month", "days": "keep", "certification": "keep",
         "diagnosis_group": "keep"}


@pytest.fixture(scope="session")
def demo_sized(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-sized")
    write(generate(employees=15000, seed=2026), out, formats=("parquet",))
    return out


@pytest.fixture
def registered(factory, demo_sized):
    with session_scope(factory) as s:
        service.create_dataset(s, name="sick-leave", source=demo_sized / "sick_leave.parquet", columns=SICK_LEAVE_ROLES,
                               classification="special-category", owning_unit="HR unit", actor="anne")
        service.create_dataset(s, name="staff", source=demo_sized / "staff.parquet", columns=STAFF_ROLES,
                               owning_unit="HR unit", actor="anne")
    return factory


def built(factory, slug, grant):
    make_project(factory, slug, {"ingrid": "lead"}, {"sick-leave": grant})
    with session_scope(factory) as s:
        build_project_extracts(s, service.get_project(s, slug), actor="anne")
        extract = service.get_project(s, slug).extracts[0]
        return extract.min_k, json.loads(extract.risk_report)


def test_k_as_asked_and_as_suggested_equal_the_extract_builders(registered):
    content = application({"sick-leave": ASKED}, legal_basis_art9="9(2)(j)")
    assert content.start_date == START  # ages are computed at the project's start, as the builder does
    with session_scope(registered) as s:
        assessment = pre_assess_from_catalogue(s, content)
    (ds,) = assessment.datasets
    assert ds.as_asked.k < 5 <= ds.as_suggested.k
    for slug, grant, figures in (("asked", ASKED, ds.as_asked), ("suggested", ds.suggested, ds.as_suggested)):
        k, report = built(registered, slug, grant)
        summary = report["summary"]
        print(f"\n{slug}: pre-assessment k={figures.k}, extract k={k}; classes {figures.classes}/{summary['classes']}")
        assert figures.k == k == summary["k"]
        assert (figures.classes, figures.records_below_k, figures.records) == (
            summary["classes"], summary["records_below_k"], summary["records"])
        assert figures.quasi_identifiers == summary["quasi_identifiers"]
        assert figures.l == {c: d["l"] for c, d in report["l_diversity"].items()}


def test_twin_has_the_built_extracts_columns_dtypes_and_categories(registered, tmp_path):
    built(registered, "real", ASKED)
    real = pd.read_parquet(api.extract_dir("real") / "sick-leave.parquet")
    with session_scope(registered) as s:
        meta = next(m for m in load_catalogue(s) if m.name == "sick-leave")
    twin, _ = make_twin(meta, ASKED, reference=START, seed=3)
    write_twin(twin, tmp_path, "sick-leave")
    synthetic = pd.read_parquet(tmp_path / "sick-leave.parquet")
    assert is_synthetic(tmp_path / "sick-leave.parquet")
    assert list(synthetic.columns) == list(real.columns)
    assert {c: str(t) for c, t in synthetic.dtypes.items()} == {c: str(t) for c, t in real.dtypes.items()}
    for column in real.columns:
        if isinstance(real[column].dtype, pd.CategoricalDtype) and column != "national_id":
            assert list(synthetic[column].cat.categories) == list(real[column].cat.categories), column
    assert list(pd.read_csv(tmp_path / "sick-leave.csv", nrows=5).columns) == list(real.columns)


def test_catalogue_export_and_search_from_the_command_line(registered, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("SANDKASSE_DATABASE_URL", database_url)
    runner = CliRunner()
    for fmt, rdf_format in (("turtle", "turtle"), ("jsonld", "json-ld")):
        out = tmp_path / f"catalogue.{fmt}"
        result = runner.invoke(app, ["catalogue", "export", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        g = Graph().parse(out, format=rdf_format)
        names = {str(d).rsplit("/", 1)[1] for d in g.subjects(RDF.type, DCAT.Dataset)}
        assert names == {"sick-leave", "staff"}
        assert all(g.value(d, DCTERMS.title) is not None for d in g.subjects(RDF.type, DCAT.Dataset))
    result = runner.invoke(app, ["catalogue", "export", "--format", "xml"])
    assert result.exit_code == 2 and "turtle or jsonld" in result.output
    result = runner.invoke(app, ["catalogue", "search", "diagnosis"])
    assert result.exit_code == 0 and "sick-leave" in result.output and "staff" not in result.output
    result = runner.invoke(app, ["catalogue", "show", "staff", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["rows"] == 15000


def _analysis_cells(project, datasets, data_mount: str) -> list[str]:
    """The code cells of the welcome notebook's worked example for these datasets, without the export."""
    from hub.welcome import render_welcome_notebook

    notebook = json.loads(render_welcome_notebook(project, datasets, data_mount=data_mount))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if "request_export" not in c]


def test_the_code_written_on_the_twin_runs_unchanged_on_the_approved_extract(registered, tmp_path):
    """The welcome notebook's worked example (episodes and staff register joined per employee, sick-leave
    percentage per service area and year, checked with the sdc wrapper) runs on the application's twins
    and then, the same code, on the extracts built after approval."""
    from provisioning.applications.twin import write_application_twins

    grants = {"sick-leave": {"national_id": "pseudonymise", "gender": "keep", "service_area": "keep",
                             "employment_pct": "keep", "start_date": "keep", "days": "keep", "address": "drop"},
              "staff": {"national_id": "pseudonymise", "service_area": "keep", "contracted_days": "keep"}}
    content = application(grants)
    with session_scope(registered) as s:
        catalogue = {m.name: m for m in load_catalogue(s)}
    twin_dir = tmp_path / "twin"
    write_application_twins(content, catalogue, twin_dir, application="APP-9", seed=4)

    make_project(registered, "approved", {"ingrid": "lead"}, grants)
    with session_scope(registered) as s:
        build_project_extracts(s, service.get_project(s, "approved"), actor="anne")
        datasets = api.project_datasets(s, "approved")
        project = api.get_project(s, "approved")
    real_dir = api.extract_dir("approved")
    assert sorted(p.name for p in twin_dir.glob("*.parquet")) == sorted(p.name for p in real_dir.glob("*.parquet"))

    results = {}
    for label, folder in (("twin", twin_dir), ("real", real_dir)):
        cells = _analysis_cells(project, datasets, str(folder))
        assert any("pivot_table(" in c for c in cells)
        namespace: dict = {}
        for cell in cells:
            exec(compile(cell, f"<{label} cell>", "exec"), namespace)  # noqa: S102 - the notebook's own code
        results[label] = namespace["result"].table
    twin, real = results["twin"], results["real"]
    print(f"\ntwin table {twin.shape}, real table {real.shape}")
    assert list(twin.columns) == list(real.columns) and set(twin.index) == set(real.index)
    # the twin's persons link across its two files, as the project's pseudonyms do
    staff = pd.read_parquet(twin_dir / "staff.parquet")
    episodes = pd.read_parquet(twin_dir / "sick-leave.parquet")
    assert episodes.national_id.astype(str).isin(set(staff.national_id.astype(str))).mean() > 0.5
