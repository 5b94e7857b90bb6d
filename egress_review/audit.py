"""The egress audit log: every state change and every download becomes a hash-chained event
(:mod:`sandkasse.audit`) written in the same transaction as the change it records, plus a JSON line
under ``var/audit/egress.jsonl`` for shipping to a SIEM (written only once the transaction commits).

Each append also moves the sealed chain head (:class:`egress_review.models.AuditHead`), so
:func:`verify` shows events cut off the end and a chain rewritten from scratch, not only edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from egress_review.models import AuditHead, EgressAuditEvent
from egress_review.settings import EgressSettings
from sandkasse import audit as chain
from sandkasse.audit import AuditReport, JsonlShipper, SealedHead, append_event, seal, verify_sealed
from sandkasse.keys import load_master_key
from sandkasse.settings import Settings

__all__ = ["SYSTEM", "Actor", "AuditLog", "AuditReport", "head_key", "seal", "verify", "verify_configured"]

COMPONENT = "egress"


@dataclass(frozen=True)
class Actor:
    """Who did something, in which role, from where."""

    username: str
    role: str
    source: str = ""


SYSTEM = Actor("sandkasse-egress", "system")


def head_key(master_key: bytes) -> bytes:
    return chain.head_key(master_key, COMPONENT)


@dataclass
class AuditLog:
    jsonl_path: Path
    seal_key: bytes
    _shipper: JsonlShipper = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._shipper = JsonlShipper(self.jsonl_path)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Ship each committed event as a JSON line; events of a rolled-back transaction never appear."""
        self._shipper.attach(factory)

    def record(
        self,
        session: Session,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str,
        detail: dict[str, Any] | None = None,
    ) -> EgressAuditEvent:
        return append_event(
            session,
            EgressAuditEvent,
            actor=actor.username,
            role=actor.role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            source=actor.source or "",
            detail=detail,
            head=SealedHead(AuditHead, self.seal_key),
            shipper=self._shipper,
        )

    def verify(self, session: Session) -> AuditReport:
        return verify(session, self.seal_key, self.jsonl_path)


def verify(session: Session, seal_key: bytes | None, jsonl_path: Path | None) -> AuditReport:
    return verify_sealed(session, EgressAuditEvent, SealedHead(AuditHead, seal_key), jsonl_path, COMPONENT)


def verify_configured(session: Session, settings: Settings) -> AuditReport:
    """The check ``sandkasse audit verify`` runs: with the master key and JSON-lines file of ``settings``."""
    egress = settings if isinstance(settings, EgressSettings) else EgressSettings(**settings.model_dump())
    return verify(session, head_key(load_master_key(egress)), egress.audit_jsonl)
