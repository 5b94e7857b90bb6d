"""The catalogue as applicants read it: every registered dataset with its description, owning unit,
classification, legal basis of collection, period, update frequency, row count and, per column, its
role, meaning, type and value domain; and a search over it.

Registered facts come from the database (:mod:`provisioning.catalogue`); what an applicant needs beyond
them is reviewed in ``policies/catalogue.yaml``. Only declared metadata and the row count are shown, never
a value read from the data: the catalogue is public, and a code list read from the file (a Parquet
dictionary) would publish its rare values (a unit of one employee, an unusual diagnosis) to anyone. A
column's code list is the one declared and reviewed in the policy (``domain.values``)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.models import ColumnRole, Dataset
from sandkasse.policy import load_policy

# EU data-theme codes (http://publications.europa.eu/resource/authority/data-theme/...) used by DCAT-AP-NO
THEMES = {"AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "OP_DATPRO", "REGI", "SOCI", "TECH", "TRAN"}
FREQUENCIES = {"ANNUAL", "BIENNIAL", "QUARTERLY", "MONTHLY", "WEEKLY", "DAILY", "CONT", "IRREG", "NEVER", "UNKNOWN"}


class Domain(BaseModel):
    """Declared value domain of a column: allowed values, or a range (numbers or dates)."""

    model_config = ConfigDict(extra="forbid")
    values: list[float | int | str] | None = None
    min: float | int | date | None = None
    max: float | int | date | None = None


class ColumnPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meaning: str = ""
    domain: Domain | None = None


class TwinPolicy(BaseModel):
    """Whether a synthetic twin may follow the data's marginals (with noise) or only the declared domains."""

    model_config = ConfigDict(extra="forbid")
    marginals: Literal["none", "noisy"] = "none"
    epsilon: float = Field(default=1.0, gt=0)
    # rows of one person counted at most this many times (bounds one person's weight in a marginal)
    max_rows_per_person: int = Field(default=1, ge=1)


class LegalBasis(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    uri: str = ""


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date
    end: date


class DatasetPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: dict[str, str] = Field(default_factory=dict)  # language -> title
    description: str = ""
    themes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    data_subjects: str = ""
    period: Period | None = None
    update_frequency: str = "UNKNOWN"
    legal_basis_of_collection: LegalBasis | None = None
    twin: TwinPolicy = Field(default_factory=TwinPolicy)
    columns: dict[str, ColumnPolicy] = Field(default_factory=dict)

    @field_validator("themes")
    @classmethod
    def _themes(cls, themes: list[str]) -> list[str]:
        if bad := [t for t in themes if t not in THEMES]:
            raise ValueError(f"unknown data themes {bad}; use EU data-theme codes {sorted(THEMES)}")
        return themes

    @field_validator("update_frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        if value not in FREQUENCIES:
            raise ValueError(f"unknown update frequency {value!r}; use one of {sorted(FREQUENCIES)}")
        return value


class Agent(BaseModel):
    name: str
    organisation_number: str = ""


class Contact(BaseModel):
    name: str = ""
    email: str = ""


class CataloguePolicy(BaseModel):
    version: int
    publisher: Agent
    contact: Contact = Field(default_factory=Contact)
    base_uri: str
    datasets: dict[str, DatasetPolicy] = Field(default_factory=dict)


def load_policy_file(path: Path | None = None) -> CataloguePolicy:
    return load_policy(CataloguePolicy, "catalogue", path=path)


class ColumnMeta(BaseModel):
    name: str
    role: ColumnRole
    meaning: str = ""
    dtype: str = ""  # Arrow type of the source column (string, int64, timestamp[ms], dictionary<...>)
    domain: Domain | None = None  # declared in the policy (its code list or range), never read from the data


class DatasetMeta(BaseModel):
    """One dataset as the catalogue shows it to applicants."""

    name: str
    title: str
    titles: dict[str, str] = Field(default_factory=dict)
    description: str
    owning_unit: str
    classification: str
    legal_basis: str
    legal_basis_uri: str = ""
    data_subjects: str = ""
    period: Period | None = None
    update_frequency: str = "UNKNOWN"
    themes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    rows: int | None = None
    source: str = Field(default="", exclude=True)  # where the data lives: for the TRE's own use, never shown
    twin: TwinPolicy = Field(default_factory=TwinPolicy, exclude=True)
    columns: list[ColumnMeta]

    def column(self, name: str) -> ColumnMeta | None:
        return next((c for c in self.columns if c.name == name), None)

    def roles(self) -> dict[str, ColumnRole]:
        return {c.name: c.role for c in self.columns}


def _source_schema(source: str) -> tuple[int | None, dict[str, str]]:
    path = Path(source)
    if path.suffix != ".parquet" or not path.is_file():
        return None, {}
    import pyarrow.parquet as pq  # the services that only ask provisioning questions never load pyarrow

    meta = pq.ParquetFile(path)
    return meta.metadata.num_rows, {f.name: _readable_type(f.type) for f in meta.schema_arrow}


def _readable_type(arrow_type) -> str:
    """A column type as an applicant reads it: a dictionary-encoded column is its values' type (the
    encoding is how the file stores it, not what the column holds)."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return f"{arrow_type.value_type} (coded)"
    return str(arrow_type)


def describe(dataset: Dataset, policy: DatasetPolicy | None = None) -> DatasetMeta:
    """Merge a registered dataset with its reviewed metadata (either may be missing parts). The source
    file is read for its schema and row count only."""
    policy = policy or DatasetPolicy()
    rows, types = _source_schema(dataset.source)
    columns = []
    for c in dataset.columns:
        extra = policy.columns.get(c.name, ColumnPolicy())
        columns.append(ColumnMeta(name=c.name, role=c.role, meaning=extra.meaning or c.description,
                                  dtype=types.get(c.name, ""), domain=extra.domain))
    basis = policy.legal_basis_of_collection
    return DatasetMeta(
        name=dataset.name,
        title=policy.title.get("en") or next(iter(policy.title.values()), dataset.name),
        titles=policy.title,
        description=policy.description.strip() or dataset.description,
        owning_unit=dataset.owning_unit,
        classification=dataset.classification.value,
        legal_basis=basis.text.strip() if basis else dataset.legal_basis,
        legal_basis_uri=basis.uri if basis else "",
        data_subjects=policy.data_subjects,
        period=policy.period,
        update_frequency=policy.update_frequency,
        themes=policy.themes,
        keywords=policy.keywords,
        rows=rows,
        source=dataset.source,
        twin=policy.twin,
        columns=columns,
    )


def load_catalogue(session: Session, policy: CataloguePolicy | None = None) -> list[DatasetMeta]:
    """Every registered dataset, described for applicants, by name."""
    policy = policy or load_policy_file()
    datasets = session.execute(select(Dataset).order_by(Dataset.name)).scalars()
    return [describe(d, policy.datasets.get(d.name)) for d in datasets]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def search(catalogue: list[DatasetMeta], query: str) -> list[DatasetMeta]:
    """Datasets matching every word of ``query`` (prefixes count) in their title, description, keywords,
    themes, owning unit, legal basis or columns; best first (title and keyword hits weigh most)."""
    terms = _words(query)
    if not terms:
        return list(catalogue)
    scored = []
    for meta in catalogue:
        fields = [
            (3, " ".join([meta.name, meta.title, *meta.titles.values(), *meta.keywords])),
            (2, " ".join(f"{c.name} {c.meaning}" for c in meta.columns)),
            (1, " ".join([meta.description, meta.owning_unit, meta.legal_basis, meta.data_subjects, *meta.themes,
                          meta.classification])),
        ]
        indexed = [(weight, _words(text)) for weight, text in fields]
        score = 0
        for term in terms:
            hit = max((w for w, words in indexed if any(word.startswith(term) for word in words)), default=0)
            if hit == 0:
                break
            score += hit
        else:
            scored.append((score, meta.name, meta))
    return [m for _, _, m in sorted(scored, key=lambda t: (-t[0], t[1]))]
