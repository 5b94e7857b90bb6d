"""The application form: the catalogue it offers, and the translation between the form's fields and
:class:`~provisioning.applications.content.ApplicationContent` (both ways, so a refused form comes
back with what was typed and an error beside each bad field)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from provisioning import transformations
from provisioning.applications.content import ApplicationContent, Art6Basis, Art9Basis
from provisioning.models import Dataset

TEXT_FIELDS = ("title", "purpose", "national_provision", "data_controller", "funding", "rek_reference")
CHOICES = ("legal_basis_art6", "legal_basis_art9", "start_date", "end_date")
ART6 = [b.value for b in Art6Basis]
ART9 = [b.value for b in Art9Basis]
TRANSFORMATIONS = list(transformations.ALL)


@dataclass
class ColumnView:
    name: str
    role: str
    description: str


@dataclass
class DatasetView:
    name: str
    description: str
    classification: str
    owning_unit: str
    columns: list[ColumnView]


@dataclass
class FormValues:
    values: dict[str, str] = field(default_factory=dict)
    # dataset -> column -> (transformation, justification); "" transformation: not asked for
    asks: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    amends: str = ""

    def ask(self, dataset: str, column: str) -> tuple[str, str]:
        return self.asks.get(dataset, {}).get(column, ("", ""))


def catalogue(session: Session) -> list[DatasetView]:
    rows = session.execute(select(Dataset).options(selectinload(Dataset.columns)).order_by(Dataset.name)).scalars()
    return [DatasetView(d.name, d.description, d.classification.value, d.owning_unit,
                        [ColumnView(c.name, c.role.value, c.description) for c in d.columns]) for d in rows]


def from_content(content: ApplicationContent, amends: str = "") -> FormValues:
    values = {k: getattr(content, k) or "" for k in TEXT_FIELDS}
    values["legal_basis_art6"] = content.legal_basis_art6.value if content.legal_basis_art6 else ""
    values["legal_basis_art9"] = content.legal_basis_art9.value if content.legal_basis_art9 else ""
    values["start_date"] = content.start_date.isoformat() if content.start_date else ""
    values["end_date"] = content.end_date.isoformat() if content.end_date else ""
    values["members"] = "\n".join(content.members)
    asks = {d: {c: (a.transformation, a.justification) for c, a in ask.columns.items()} for d, ask in content.datasets.items()}
    return FormValues(values, asks, amends)


def from_form(form: Any, offered: list[DatasetView]) -> tuple[dict[str, Any], FormValues]:
    """The raw content (for :func:`~provisioning.applications.workflow.parse_content`) and what was typed."""
    def text(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    typed = FormValues({k: text(k) for k in (*TEXT_FIELDS, *CHOICES, "members")}, {}, text("amends"))
    raw: dict[str, Any] = {k: typed.values[k] for k in TEXT_FIELDS}
    for k in CHOICES:
        raw[k] = typed.values[k] or None
    raw["members"] = [m for m in re.split(r"[\s,;]+", typed.values["members"]) if m]
    datasets: dict[str, Any] = {}
    for ds in offered:
        for col in ds.columns:
            how, why = text(f"t.{ds.name}.{col.name}"), text(f"j.{ds.name}.{col.name}")
            if how or why.strip():
                typed.asks.setdefault(ds.name, {})[col.name] = (how, why)
            if how:
                datasets.setdefault(ds.name, {"columns": {}})["columns"][col.name] = {"transformation": how, "justification": why}
    raw["datasets"] = datasets
    return raw, typed


def owner_transformations(form: Any, datasets: list[str], content: ApplicationContent) -> dict[str, dict[str, str]]:
    """What a dataset owner approves for each column of their datasets (``x.<dataset>.<column>``)."""
    out: dict[str, dict[str, str]] = {}
    for d in datasets:
        for col in content.datasets[d].columns:
            value = form.get(f"x.{d}.{col}")
            if isinstance(value, str) and value:
                out.setdefault(d, {})[col] = value
    return out
