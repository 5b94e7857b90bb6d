"""Claiming outbox rows with a lease: each due row is won by exactly one sender, through a conditional
UPDATE that re-checks the claimable conditions (so two senders, or two replicas, never both win it).
Used by the egress notifications (:mod:`egress_review.notify.sender`) and the application notices
(:mod:`provisioning.applications.sender`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

Row = TypeVar("Row")


def claim_rows(
    sessions: sessionmaker[Session],
    model: type[Row],
    claimable: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
    keep: Callable[[Row], Any] = lambda row: row,
    limit: int = 100,
) -> list[Any]:
    """Claim up to ``limit`` rows of ``model`` matching ``claimable`` (oldest first), setting ``values``
    on each row won; returns ``keep(row)`` of each, read in the claiming transaction."""
    out: list[Any] = []
    with sessions() as session:
        ids = list(session.execute(select(model.id).where(*claimable).order_by(model.created_at).limit(limit)).scalars())
        for row_id in ids:
            won = session.execute(
                update(model).where(model.id == row_id, *claimable).values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won == 1:
                out.append(keep(session.get(model, row_id)))
        session.commit()
    return out
