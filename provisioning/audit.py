"""Provisioning's audit chain: who did what to which object, when and why.

Every change made by :mod:`provisioning.service` appends one event here in the same transaction, so
a change without its event (or an event without its change) cannot be committed. Each append also
moves the sealed chain head (:class:`provisioning.models.ProvisioningAuditHead`), so deleting the last
events or rewriting the chain shows in :func:`verify`. Once the transaction commits, the events are
also appended as JSON lines to ``var/audit/provisioning.jsonl`` for shipping to a log collector (never
before the commit, so a rolled-back change leaves no line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.models import ProvisioningAuditEvent, ProvisioningAuditHead
from sandkasse.audit import AuditReport, JsonlShipper, SealedHead, append_event, head_key, verify_sealed
from sandkasse.keys import load_master_key
from sandkasse.settings import Settings, get_settings

COMPONENT = "provisioning"


def jsonl_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).audit_path / "provisioning.jsonl"


def seal_key(settings: Settings | None = None) -> bytes | None:
    """Provisioning's head key, or ``None`` where no master key is configured: events are then still
    chained but the head stays unsealed, and :func:`verify` says so (a broken key setting raises)."""
    settings = settings or get_settings()
    if not (settings.master_key or settings.master_key_file):
        return None
    return head_key(load_master_key(settings), COMPONENT)


# Provisioning writes through many session factories (its CLI, the hub, the egress service, tests), so
# the shipper listens on every Session; it only ships what record() queued on that session.
_shipper = JsonlShipper(jsonl_path)
_shipper.attach(Session)


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
        head=SealedHead(ProvisioningAuditHead, seal_key()),
        shipper=_shipper,
    )


def record_changes(
    session: Session, obj: object, wanted: dict[str, Any], *, actor: str, action: str, object_type: str,
    object_id: str, reason: str = "",
) -> dict[str, Any]:
    """Set on ``obj`` the fields of ``wanted`` that differ and record them as one event; returns what
    changed, and records nothing when nothing did (an unchanged save leaves no trace in the chain)."""
    changed = {k: v for k, v in wanted.items() if getattr(obj, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(obj, key, value)
        session.flush()
        record(session, actor=actor, action=action, object_type=object_type, object_id=object_id, reason=reason,
               **changed)
    return changed


def verify(session: Session, settings: Settings | None = None) -> AuditReport:
    """Check provisioning's audit chain (ordering, links, content hashes), its sealed head (events cut
    off the end, a rewritten chain) and the shipped JSON lines."""
    head = SealedHead(ProvisioningAuditHead, seal_key(settings))
    return verify_sealed(session, ProvisioningAuditEvent, head, jsonl_path(settings), COMPONENT)


def events(session: Session, object_type: str | None = None, object_id: str | None = None) -> list[ProvisioningAuditEvent]:
    query = select(ProvisioningAuditEvent).order_by(ProvisioningAuditEvent.seq)
    if object_type is not None:
        query = query.where(ProvisioningAuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(ProvisioningAuditEvent.object_id == object_id)
    return list(session.execute(query).scalars())
