"""Shared data for the application tests: the synthetic sick-leave and staff files, described as the
catalogue describes them (transient ``Dataset`` rows, no database), and applications in one line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from provisioning import catalogue_meta
from provisioning.applications.content import ApplicationContent
from provisioning.catalogue_meta import DatasetMeta
from provisioning.models import Classification, ColumnRole, Dataset, DatasetColumn
from provisioning.synth import generate, write
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES

START = date(2026, 1, 1)


def dataset_row(name: str, source: Path, roles: dict[str, str], classification: str) -> Dataset:
    return Dataset(name=name, source=str(source), description=f"{name} (synthetic)", owning_unit="HR unit",
                   legal_basis="GDPR art. 6(1)(e)", classification=Classification(classification),
                   columns=[DatasetColumn(name=c, role=ColumnRole(r), position=i) for i, (c, r) in enumerate(roles.items())])


@pytest.fixture(scope="session")
def synth_files(tmp_path_factory) -> Path:
    """15,000 employees: every age band and month of the declared domains occurs, as in the demo."""
    out = tmp_path_factory.mktemp("application-synth")
    write(generate(employees=15000, seed=2026), out, formats=("parquet",))
    return out


@pytest.fixture(scope="session")
def metas(synth_files) -> dict[str, DatasetMeta]:
    policy = catalogue_meta.load_policy_file()
    rows = {
        "sick-leave": dataset_row("sick-leave", synth_files / "sick_leave.parquet", SICK_LEAVE_ROLES, "special-category"),
        "staff": dataset_row("staff", synth_files / "staff.parquet", STAFF_ROLES, "personal"),
    }
    return {name: catalogue_meta.describe(row, policy.datasets.get(name)) for name, row in rows.items()}


def application(datasets: dict[str, dict[str, str]], purpose: str = "Describe sick leave by service area",
                unjustified: tuple[str, ...] = (), **extra) -> ApplicationContent:
    """An application asking ``datasets`` (dataset -> column -> transformation), each column justified
    unless named in ``unjustified``."""
    return ApplicationContent.model_validate({
        "title": "Crafted application", "purpose": purpose, "legal_basis_art6": "6(1)(e)",
        "national_provision": "Personopplysningsloven § 8", "data_controller": "Trondheim kommune",
        "start_date": START, "end_date": date(2026, 12, 31), **extra,
        "datasets": {ds: {"columns": {c: {"transformation": t, "justification": "" if c in unjustified else f"{c} is needed"}
                                      for c, t in cols.items()}} for ds, cols in datasets.items()},
    })
