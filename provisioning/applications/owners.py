"""Who owns which dataset: the dataset owners who decide their dataset's part of an application
(they also need the realm role ``dataset-owner``). Each change is an audit event."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit, catalogue
from provisioning.applications.models import DatasetOwner
from sandkasse.usernames import normalise_username


def owners(session: Session, dataset: str) -> list[str]:
    ds = catalogue.get_dataset(session, dataset)
    return sorted(session.execute(select(DatasetOwner.username).where(DatasetOwner.dataset_id == ds.id)).scalars())


def add_owner(session: Session, dataset: str, username: str, *, actor: str = "system", reason: str = "") -> bool:
    """Make ``username`` an owner of ``dataset``; False (and no event) when they already are."""
    ds, username = catalogue.get_dataset(session, dataset), normalise_username(username)
    if username in owners(session, dataset):
        return False
    session.add(DatasetOwner(dataset_id=ds.id, username=username))
    session.flush()
    audit.record(session, actor=actor, action="dataset.owner_add", object_type="dataset", object_id=dataset,
                 reason=reason, username=username)
    return True


def remove_owner(session: Session, dataset: str, username: str, *, actor: str = "system", reason: str = "") -> bool:
    ds, username = catalogue.get_dataset(session, dataset), normalise_username(username)
    row = session.execute(select(DatasetOwner).where(DatasetOwner.dataset_id == ds.id, DatasetOwner.username == username)).scalar_one_or_none()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(session, actor=actor, action="dataset.owner_remove", object_type="dataset", object_id=dataset,
                 reason=reason, username=username)
    return True
