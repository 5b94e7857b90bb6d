"""The catalogue: datasets with a role for every column, and the people who may hold accounts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.errors import NotFound, ProvisioningError
from provisioning.models import Classification, ColumnRole, Dataset, DatasetColumn, Person
from sandkasse.usernames import normalise_username


def get_dataset(session: Session, name: str) -> Dataset:
    dataset = session.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
    if dataset is None:
        raise NotFound(f"no dataset named {name!r}; register it with 'sandkasse-admin dataset add'")
    return dataset


def source_columns(source: str | Path) -> list[str] | None:
    """Column names of a Parquet or CSV source, or None when the file is not there to check."""
    path = Path(source)
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        # imported here: the services that only ask provisioning questions never load pyarrow
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as fh:
            return fh.readline().strip().split(",")
    return None


def _roles(columns: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[tuple[str, ColumnRole]]:
    items = list(columns.items()) if isinstance(columns, Mapping) else list(columns)
    if not items:
        raise ProvisioningError("a dataset needs at least one column with a role")
    out = []
    for name, role in items:
        try:
            out.append((name, ColumnRole(role)))
        except ValueError as exc:
            allowed = ", ".join(r.value for r in ColumnRole)
            raise ProvisioningError(f"column {name!r}: unknown role {role!r}; use one of {allowed}") from exc
    return out


def create_dataset(
    session: Session,
    *,
    name: str,
    source: str | Path,
    columns: Mapping[str, str] | Sequence[tuple[str, str]],
    description: str = "",
    owning_unit: str = "",
    legal_basis: str = "",
    classification: str = "personal",
    actor: str = "system",
    reason: str = "",
    require_source: bool = True,
) -> Dataset:
    """Register a dataset; every column needs a role and must exist in the source file."""
    if session.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none() is not None:
        raise ProvisioningError(f"dataset {name!r} already exists")
    roles = _roles(columns)
    try:
        klass = Classification(classification)
    except ValueError as exc:
        raise ProvisioningError(
            f"unknown classification {classification!r}; use one of {', '.join(c.value for c in Classification)}"
        ) from exc
    present = source_columns(source)
    if present is None and require_source:
        raise ProvisioningError(f"dataset source {source} is not a readable .parquet or .csv file")
    if present is not None:
        missing = [c for c, _ in roles if c not in present]
        if missing:
            raise ProvisioningError(f"columns not in {source}: {', '.join(missing)}")
    dataset = Dataset(
        name=name,
        source=str(Path(source).resolve()),
        description=description,
        owning_unit=owning_unit,
        legal_basis=legal_basis,
        classification=klass,
        columns=[DatasetColumn(name=c, role=r, position=i) for i, (c, r) in enumerate(roles)],
    )
    session.add(dataset)
    session.flush()
    audit.record(
        session, actor=actor, action="dataset.add", object_type="dataset", object_id=name, reason=reason,
        source=str(source), classification=klass.value, columns={c: r.value for c, r in roles},
    )
    return dataset


def get_person(session: Session, username: str) -> Person | None:
    return session.execute(select(Person).where(Person.username == normalise_username(username))).scalar_one_or_none()


def upsert_person(
    session: Session,
    *,
    username: str,
    full_name: str = "",
    email: str = "",
    roles: Sequence[str] = (),
    enabled: bool = True,
    actor: str = "system",
    reason: str = "",
) -> Person:
    """Register (or update) someone who may hold a Keycloak account; no event when nothing changes."""
    username = normalise_username(username)
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ProvisioningError(f"invalid username {username!r}: letters, digits, '.', '-' and '_' only")
    person = get_person(session, username)
    wanted = {"full_name": full_name, "email": email, "realm_roles": ",".join(sorted(set(roles))), "enabled": enabled}
    if person is None:
        person = Person(username=username, **wanted)
        session.add(person)
        session.flush()
        audit.record(session, actor=actor, action="person.add", object_type="person", object_id=username, reason=reason, **wanted)
        return person
    audit.record_changes(session, person, wanted, actor=actor, action="person.update", object_type="person",
                         object_id=username, reason=reason)
    return person
