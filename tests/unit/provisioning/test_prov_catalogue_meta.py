"""The catalogue for applicants: full metadata of the synthetic datasets, search, and the DCAT-AP-NO
export (Turtle and JSON-LD) read back with rdflib."""

import json

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from provisioning import catalogue_meta, dcat
from provisioning.models import ColumnRole
from tests.unit.provisioning.application_data import metas, synth_files  # noqa: F401 - fixtures

pytestmark = pytest.mark.unit


def test_the_synthetic_datasets_carry_full_metadata(metas):
    for meta in metas.values():
        assert meta.title and meta.description and meta.owning_unit and meta.classification
        assert meta.legal_basis and meta.legal_basis_uri.startswith("https://lovdata.no/")
        assert meta.period is not None and meta.update_frequency in catalogue_meta.FREQUENCIES
        assert meta.rows and meta.rows > 1000 and meta.data_subjects == "employees"
        assert meta.themes and meta.keywords
        # every column has its role and its meaning; code lists are the declared ones
        assert all(c.meaning and c.role and c.dtype for c in meta.columns), [c.name for c in meta.columns if not c.meaning]
    sick = metas["sick-leave"]
    assert sick.classification == "special-category"
    assert "Musculoskeletal (L)" in sick.column("diagnosis_group").domain.values
    # identifiers' and units' code lists would be people's names and workplaces of one: never declared
    assert sick.column("first_name").role is ColumnRole.direct_identifier and sick.column("first_name").domain is None
    assert sick.column("unit").domain is None
    # types as an applicant reads them, not the file's storage (a dictionary-encoded column is text)
    assert sick.column("unit").dtype == "string (coded)" and not any("dictionary<" in c.dtype for c in sick.columns)


def test_declared_code_lists_cover_the_datas_codes(metas, synth_files):
    """The declared lists are true of the demo's files (a code outside them would be a value the
    catalogue hides from applicants, and a sign the declaration is out of date)."""
    import pyarrow.parquet as pq

    files = {"sick-leave": "sick_leave.parquet", "staff": "staff.parquet"}
    checked = 0
    for name, meta in metas.items():
        table = pq.read_table(synth_files / files[name])
        for column in meta.columns:
            if column.domain is None or not column.domain.values or not column.dtype.endswith("(coded)"):
                continue
            codes = set(map(str, table.column(column.name).combine_chunks().dictionary.to_pylist()))
            assert codes <= set(map(str, column.domain.values)), (name, column.name, codes - set(column.domain.values))
            checked += 1
    assert checked >= 8


def test_metadata_shows_no_value_of_a_person(metas, synth_files):
    import pandas as pd

    text = json.dumps({n: m.model_dump(mode="json") for n, m in metas.items()})
    staff = pd.read_parquet(synth_files / "staff.parquet", columns=["national_id", "address", "last_name"]).head(500)
    assert not any(v in text for v in staff.national_id) and not any(v in text for v in staff.address)
    assert "source" not in metas["staff"].model_dump()  # where the data lives is not for applicants


def test_search_finds_by_title_column_meaning_and_keyword(metas):
    catalogue = list(metas.values())
    assert [m.name for m in catalogue_meta.search(catalogue, "diagnosis")] == ["sick-leave"]
    assert [m.name for m in catalogue_meta.search(catalogue, "sykefravær")] == ["sick-leave"]
    assert [m.name for m in catalogue_meta.search(catalogue, "turnover")] == ["staff"]
    assert {m.name for m in catalogue_meta.search(catalogue, "employ unit")} == {"sick-leave", "staff"}
    assert catalogue_meta.search(catalogue, "diagnosis turnover") == []  # every word must match
    assert len(catalogue_meta.search(catalogue, "")) == 2


def test_a_bad_theme_or_frequency_in_the_policy_is_refused():
    with pytest.raises(ValueError, match="data themes"):
        catalogue_meta.DatasetPolicy(themes=["HEALTH"])
    with pytest.raises(ValueError, match="update frequency"):
        catalogue_meta.DatasetPolicy(update_frequency="sometimes")


@pytest.mark.parametrize("fmt,rdf_format", [("turtle", "turtle"), ("jsonld", "json-ld")])
def test_dcat_ap_no_export_parses_back_and_names_every_dataset(metas, fmt, rdf_format):
    policy = catalogue_meta.load_policy_file()
    text = dcat.export(list(metas.values()), policy, fmt)
    g = Graph().parse(data=text, format=rdf_format)
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert {str(d).rsplit("/", 1)[1] for d in datasets} == set(metas)
    (catalog,) = g.subjects(RDF.type, DCAT.Catalog)
    assert set(g.objects(catalog, DCAT.dataset)) == datasets
    for ds in datasets:
        meta = metas[str(ds).rsplit("/", 1)[1]]
        assert {str(t) for t in g.objects(ds, DCTERMS.title)} == set(meta.titles.values())
        assert {t.language for t in g.objects(ds, DCTERMS.title)} == {"en", "nb"}
        assert g.value(ds, DCTERMS.description) is not None
        publisher = g.value(ds, DCTERMS.publisher)
        assert str(g.value(publisher, DCTERMS.identifier)) == "942110464"
        assert g.value(ds, DCAT.contactPoint) is not None
        distributions = set(g.objects(ds, DCAT.distribution))
        assert len(distributions) == 2 and all((d, RDF.type, DCAT.Distribution) in g for d in distributions)
        themes = {str(t) for t in g.objects(ds, DCAT.theme)}
        assert themes == {f"http://publications.europa.eu/resource/authority/data-theme/{t}" for t in meta.themes}
        assert g.value(ds, DCTERMS.accessRights) == URIRef("http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC")
        # the Norwegian profile's legal bases: of the collection, and for restricting access
        basis = g.value(ds, dcat.DCATNO.legalBasisForProcessing)
        assert "GDPR" in str(g.value(basis, DCTERMS.description))
        assert g.value(ds, dcat.DCATNO.legalBasisForRestriction) is not None
        period = g.value(ds, DCTERMS.temporal)
        assert str(g.value(period, DCAT.startDate)) == meta.period.start.isoformat()
        schema = g.value(next(iter(distributions)), DCTERMS.conformsTo)
        assert len(set(g.objects(schema, dcat.CSVW.column))) == len(meta.columns)
