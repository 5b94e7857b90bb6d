"""Provisioning's audit chain: who did what to which object, when and why.

Every change made by :mod:`provisioning.service` appends one event here in the same transaction, so
a change without its event (or an event without its change) cannot be committed. Once the transaction
commits, the events are also appended as JSON lines to ``var/audit/provisioning.jsonl`` for shipping to
a log collector (never before the commit, so a rolled-back change leaves no line)."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.models import ProvisioningAuditEvent
from sandkasse.audit import ChainReport, append_event, verify_chain
from sandkasse.settings import get_settings

_PENDING = "provisioning_audit_pending"
_lock = threading.Lock()


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
    row = append_event(
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
    session.info.setdefault(_PENDING, []).append(
        json.dumps({**row.chained_fields(), "prev_hash": row.prev_hash, "hash": row.hash}, ensure_ascii=False)
    )
    return row


def jsonl_path():  # noqa: ANN201
    return get_settings().var_dir / "audit" / "provisioning.jsonl"


@sa_event.listens_for(Session, "after_commit")
def _ship(session: Session) -> None:
    lines = session.info.pop(_PENDING, None)
    if not lines:
        return
    path = jsonl_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


@sa_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
