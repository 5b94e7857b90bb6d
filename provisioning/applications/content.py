"""What an application asks for: the applicant's answers, validated at the boundary.

The data part uses the project declaration's vocabulary (``GrantSpec.columns``: ``keep``,
``pseudonymise``, ``drop``, ``generalise:<rule>``), so an approved application becomes a
:class:`~provisioning.declarative.ProjectSpec` without translation."""

from __future__ import annotations

from datetime import date
from enum import Enum

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from provisioning.declarative import GrantSpec, ProjectSpec


# an invitation address: one @, a dotted or local host part, no spaces (delivery proves the rest)
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class Art6Basis(str, Enum):
    """GDPR art. 6(1) legal bases."""

    consent = "6(1)(a)"
    contract = "6(1)(b)"
    legal_obligation = "6(1)(c)"
    vital_interests = "6(1)(d)"
    public_task = "6(1)(e)"
    legitimate_interests = "6(1)(f)"


class Art9Basis(str, Enum):
    """GDPR art. 9(2) exceptions for special categories (health data such as diagnosis groups)."""

    explicit_consent = "9(2)(a)"
    employment = "9(2)(b)"
    public_interest = "9(2)(g)"
    health_care = "9(2)(h)"
    public_health = "9(2)(i)"
    research = "9(2)(j)"


class ColumnAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # same vocabulary as GrantSpec.columns: keep | pseudonymise | drop | generalise:<rule>
    transformation: str = Field(min_length=1)
    justification: str = ""


class DatasetAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: dict[str, ColumnAsk] = Field(min_length=1)


class ApplicationContent(BaseModel):
    """The applicant's answers. A draft may be incomplete; :meth:`problems` says what blocks submission."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=200)
    purpose: str = ""
    legal_basis_art6: Art6Basis | None = None
    legal_basis_art9: Art9Basis | None = None
    national_provision: str = ""
    data_controller: str = ""
    funding: str = ""
    rek_reference: str = ""
    start_date: date | None = None
    end_date: date | None = None
    members: list[Email] = Field(default_factory=list)
    datasets: dict[str, DatasetAsk] = Field(default_factory=dict)

    @field_validator("members")
    @classmethod
    def _distinct_members(cls, members: list[str]) -> list[str]:
        if len(set(members)) != len(members):
            raise ValueError("a member is listed twice")
        return members

    @model_validator(mode="after")
    def _dates(self) -> ApplicationContent:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self

    def problems(self) -> dict[str, str]:
        """Field -> why the application cannot be submitted yet (empty when it can)."""
        out: dict[str, str] = {}
        for name in ("purpose", "national_provision", "data_controller"):
            if not getattr(self, name):
                out[name] = "required"
        for name in ("legal_basis_art6", "start_date", "end_date"):
            if getattr(self, name) is None:
                out[name] = "required"
        if not self.datasets:
            out["datasets"] = "ask for at least one dataset"
        for ds, ask in self.datasets.items():
            for col, c in ask.columns.items():
                if c.transformation != "drop" and not c.justification.strip():
                    out[f"datasets.{ds}.{col}"] = "say why this column is needed"
        return out

    def to_project_spec(self, slug: str, members: dict[str, str]) -> ProjectSpec:
        """The project declaration an approved application becomes (``members``: username -> role)."""
        if self.start_date is None or self.end_date is None or self.legal_basis_art6 is None:
            raise ValueError("an incomplete application cannot become a project")
        basis = f"GDPR art. {self.legal_basis_art6.value}"
        if self.legal_basis_art9 is not None:
            basis += f" and art. {self.legal_basis_art9.value}"
        if self.national_provision:
            basis += f"; {self.national_provision}"
        return ProjectSpec(
            slug=slug,
            title=self.title,
            purpose=self.purpose,
            legal_basis=basis,
            data_controller=self.data_controller,
            start_date=self.start_date,
            end_date=self.end_date,
            members=members,
            datasets={
                name: GrantSpec(columns={col: c.transformation for col, c in ask.columns.items()})
                for name, ask in self.datasets.items()
            },
        )
