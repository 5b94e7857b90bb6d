"""Provisioning's audit chain: who did what to which object, when and why.

Every change made by :mod:`provisioning.service` appends one event here in the same transaction, so
a change without its event (or an event without its change) cannot be committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.models import ProvisioningAuditEvent
from sandkasse.audit import ChainReport, append_event, verify_chain


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    reason: str = "",
    role: str = "admin",
    source: str = "sandkasse-admin",
    **detail: Any,
) -> ProvisioningAuditEvent:
    """Append an event; ``reason`` is the why, ``detail`` what changed."""
    payload = {"reason": reason, **detail} if reason else dict(detail)
    return append_event(
        session,
        ProvisioningAuditEvent,
        actor=actor,
        role=role,
        action=action,
        object_type=object_type,
        object_id=object_id,
        source=source,
        detail=payload,
    )


def verify(session: Session) -> ChainReport:
    """Check provisioning's audit chain (ordering, links, content hashes)."""
    return verify_chain(session, ProvisioningAuditEvent)


def events(session: Session, object_type: str | None = None, object_id: str | None = None) -> list[ProvisioningAuditEvent]:
    query = select(ProvisioningAuditEvent).order_by(ProvisioningAuditEvent.seq)
    if object_type is not None:
        query = query.where(ProvisioningAuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(ProvisioningAuditEvent.object_id == object_id)
    return list(session.execute(query).scalars())
