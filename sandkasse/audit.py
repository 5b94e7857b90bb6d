"""Append-only, hash-chained audit events, shared by provisioning and egress_review.

Each component keeps its own audit table built from :class:`AuditEventMixin`; every row stores the
SHA-256 of its canonical content together with the previous row's hash, so editing, deleting or
reordering any row breaks the chain at a place :func:`verify_chain` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

GENESIS = "0" * 64


def utcnow() -> datetime:
    return datetime.now(UTC)


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(fields)).hexdigest()


class AuditEventMixin:
    """Columns of an audit event. ``seq`` is the chain order; ``hash`` covers every other column."""

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def chained_fields(self) -> dict[str, Any]:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        return {
            "seq": self.seq,
            "at": at.isoformat(),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "source": self.source,
            "detail": self.detail,
        }


def append_event(
    session: Session,
    model: type[AuditEventMixin],
    *,
    actor: str,
    role: str,
    action: str,
    object_type: str,
    object_id: str,
    source: str = "",
    detail: dict[str, Any] | None = None,
    jsonl_path: Path | None = None,
) -> AuditEventMixin:
    """Add the next event to ``session`` (the caller's transaction commits it with the change it records).

    The last row is read with a row lock where the database has one, so concurrent writers serialise
    on the chain head; SQLite serialises writers anyway. A duplicate ``seq`` from a race fails the
    transaction rather than forking the chain (``seq`` is the primary key).
    """
    last = session.execute(
        select(model).order_by(model.seq.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    prev_hash = last.hash if last is not None else GENESIS
    row = model(
        seq=(last.seq + 1) if last is not None else 1,
        at=utcnow(),
        actor=actor,
        role=role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        source=source,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        prev_hash=prev_hash,
    )
    row.hash = event_hash(prev_hash, row.chained_fields())
    session.add(row)
    session.flush()
    if jsonl_path is not None:
        _ship_jsonl(jsonl_path, row)
    return row


def _ship_jsonl(path: Path, row: AuditEventMixin) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**row.chained_fields(), "prev_hash": row.prev_hash, "hash": row.hash}) + "\n")


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.events} events"
        return f"audit chain BROKEN at event {self.first_bad_seq}: {self.problem}"


def verify_rows(rows: Sequence[AuditEventMixin] | Iterable[AuditEventMixin]) -> ChainReport:
    """Check ordering, linkage and content hashes; report the first bad event."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return ChainReport(False, count, row.seq, f"expected event {expected_seq}, found {row.seq} (deleted or reordered)")
        if row.prev_hash != prev_hash:
            return ChainReport(False, count, row.seq, "link to the previous event does not match (deleted or reordered)")
        if event_hash(prev_hash, row.chained_fields()) != row.hash:
            return ChainReport(False, count, row.seq, "content does not match its hash (edited)")
        prev_hash = row.hash
        expected_seq += 1
    return ChainReport(True, count)


def verify_chain(session: Session, model: type[AuditEventMixin]) -> ChainReport:
    return verify_rows(session.execute(select(model).order_by(model.seq)).scalars())
