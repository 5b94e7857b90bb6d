"""The catalogue as DCAT-AP-NO (the Norwegian profile of DCAT-AP), in Turtle or JSON-LD, so that
data.norge.no-style harvesters can read what the TRE holds. Built with rdflib.

Every dataset is a ``dcat:Dataset`` with title, description, publisher, contact point, EU data
themes, keywords, access rights (non-public: access by application), temporal coverage, update
frequency, the legal basis of its collection (``dcatno:legalBasisForProcessing``), the legal basis for
restricting access (``dcatno:legalBasisForRestriction``), its column schema (CSVW) and one
``dcat:Distribution`` per dataset: the pseudonymised extract an approved project gets, never a
download of the source."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from provisioning.catalogue_meta import CataloguePolicy, DatasetMeta

DCATNO = Namespace("https://data.norge.no/vocabulary/dcatno#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU = "http://publications.europa.eu/resource/authority/"
ORG_REGISTRY = "https://data.brreg.no/enhetsregisteret/api/enheter/"
GDPR = URIRef("http://data.europa.eu/eli/reg/2016/679/oj")
# Access is restricted because the data are personal (GDPR) and covered by professional secrecy.
RESTRICTION = ("Personal data about identifiable employees; access only for approved projects inside the TRE "
               "(GDPR art. 5, 32; Forvaltningsloven § 13, taushetsplikt).",
               "https://lovdata.no/dokument/NL/lov/1967-02-10/KAPITTEL_3")
FORMATS = {"parquet": "PARQUET", "csv": "CSV"}


def _lang(lang: str) -> str:
    return {"nb": "nb", "nn": "nn", "no": "nb"}.get(lang, lang)


def _rights(g: Graph, text: str, page: str) -> BNode:
    node = BNode()
    g.add((node, RDF.type, DCTERMS.RightsStatement))
    g.add((node, DCTERMS.description, Literal(text, lang="en")))
    if page:
        g.add((node, FOAF.page, URIRef(page)))
    return node


def build_graph(catalogue: list[DatasetMeta], policy: CataloguePolicy, formats: tuple[str, ...] = ("parquet", "csv")) -> Graph:
    base = policy.base_uri.rstrip("/") + "/"
    g = Graph()
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("vcard", VCARD), ("dcatno", DCATNO),
                       ("dcatap", DCATAP), ("csvw", CSVW), ("adms", ADMS)):
        g.bind(prefix, ns)

    publisher = URIRef(ORG_REGISTRY + policy.publisher.organisation_number) if policy.publisher.organisation_number \
        else URIRef(base + "publisher")
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(policy.publisher.name, lang="nb")))
    if policy.publisher.organisation_number:
        g.add((publisher, DCTERMS.identifier, Literal(policy.publisher.organisation_number)))

    contact = URIRef(base + "contact")
    g.add((contact, RDF.type, VCARD.Organization))
    if policy.contact.name:
        g.add((contact, VCARD.fn, Literal(policy.contact.name)))
    if policy.contact.email:
        g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{policy.contact.email}")))

    cat = URIRef(base)
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal("Sandkasse: datasets available for research in the TRE", lang="en")))
    g.add((cat, DCTERMS.description, Literal(
        "Datasets that approved projects can analyse inside the trusted research environment; apply through the portal.",
        lang="en")))
    g.add((cat, DCTERMS.publisher, publisher))

    for meta in catalogue:
        ds = URIRef(f"{base}datasets/{meta.name}")
        g.add((cat, DCAT.dataset, ds))
        g.add((ds, RDF.type, DCAT.Dataset))
        g.add((ds, DCTERMS.identifier, Literal(str(ds))))
        titles = meta.titles or {"en": meta.title}
        for lang, title in titles.items():
            g.add((ds, DCTERMS.title, Literal(title, lang=_lang(lang))))
        g.add((ds, DCTERMS.description, Literal(meta.description or meta.title, lang="en")))
        g.add((ds, DCTERMS.publisher, publisher))
        g.add((ds, DCAT.contactPoint, contact))
        if meta.owning_unit:
            g.add((ds, DCTERMS.creator, Literal(meta.owning_unit)))
        for theme in meta.themes:
            g.add((ds, DCAT.theme, URIRef(f"{EU}data-theme/{theme}")))
        for word in meta.keywords:
            g.add((ds, DCAT.keyword, Literal(word)))
        access = "PUBLIC" if meta.classification == "open" else "NON_PUBLIC"
        g.add((ds, DCTERMS.accessRights, URIRef(f"{EU}access-right/{access}")))
        g.add((ds, DCTERMS.accrualPeriodicity, URIRef(f"{EU}frequency/{meta.update_frequency}")))
        if meta.period is not None:
            period = BNode()
            g.add((period, RDF.type, DCTERMS.PeriodOfTime))
            g.add((period, DCAT.startDate, Literal(meta.period.start, datatype=XSD.date)))
            g.add((period, DCAT.endDate, Literal(meta.period.end, datatype=XSD.date)))
            g.add((ds, DCTERMS.temporal, period))
        if meta.legal_basis:
            g.add((ds, DCATNO.legalBasisForProcessing, _rights(g, meta.legal_basis, meta.legal_basis_uri)))
        if access == "NON_PUBLIC":
            g.add((ds, DCATNO.legalBasisForRestriction, _rights(g, *RESTRICTION)))
        if meta.classification in ("personal", "special-category"):
            g.add((ds, DCATAP.applicableLegislation, GDPR))
        g.add((ds, ADMS.status, URIRef(f"{EU}dataset-status/COMPLETED")))

        schema = BNode()
        g.add((schema, RDF.type, CSVW.Schema))
        for column in meta.columns:
            col = BNode()
            g.add((schema, CSVW.column, col))
            g.add((col, CSVW.name, Literal(column.name)))
            if column.meaning:
                g.add((col, DCTERMS.description, Literal(column.meaning, lang="en")))
            # the column's disclosure role (direct identifier, quasi-identifier, sensitive, other)
            g.add((col, DCTERMS.type, Literal(column.role.value)))
        for fmt in formats:
            dist = URIRef(f"{base}datasets/{meta.name}/distribution/{fmt}")
            g.add((ds, DCAT.distribution, dist))
            g.add((dist, RDF.type, DCAT.Distribution))
            g.add((dist, DCTERMS.title, Literal(f"Project extract of {meta.title} ({fmt.upper()})", lang="en")))
            g.add((dist, DCTERMS.description, Literal(
                "The granted columns, pseudonymised and generalised as approved, inside the project's sandbox; "
                "results leave only through output checking.", lang="en")))
            g.add((dist, DCAT.accessURL, URIRef(f"{base}apply?dataset={meta.name}")))
            g.add((dist, DCTERMS.format, URIRef(f"{EU}file-type/{FORMATS[fmt]}")))
            g.add((dist, DCTERMS.conformsTo, schema))
    return g


def export(catalogue: list[DatasetMeta], policy: CataloguePolicy, fmt: str = "turtle") -> str:
    """The catalogue serialised as ``turtle`` or ``jsonld``."""
    graph = build_graph(catalogue, policy)
    if fmt == "turtle":
        return graph.serialize(format="turtle")
    if fmt == "jsonld":
        context = {p: str(ns) for p, ns in graph.namespaces() if p in
                   ("dcat", "dct", "foaf", "vcard", "dcatno", "dcatap", "csvw", "adms", "rdf", "xsd")}
        return graph.serialize(format="json-ld", context=context, indent=2)
    raise ValueError(f"unknown format {fmt!r}; use turtle or jsonld")
