"""The egress audit log: every state change and every download becomes a hash-chained event
(:mod:`sandkasse.audit`) written in the same transaction as the change it records, plus a JSON line
under ``var/audit/egress.jsonl`` for shipping to a SIEM (written only once the transaction commits).

A hash chain alone does not show events cut off the end (what is left is still a valid chain), nor a
chain rewritten from scratch. So each append also updates the chain *head* row, sealed with an HMAC
under a key derived from the master key, and :func:`verify` compares the chain with the sealed head
and with the JSON lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from egress_review.models import AuditHead, EgressAuditEvent
from sandkasse.audit import GENESIS, ChainReport, event_hash, utcnow, verify_chain

_PENDING = "egress_audit_pending"
_jsonl_lock = threading.Lock()


@dataclass(frozen=True)
class Actor:
    """Who did something, in which role, from where."""

    username: str
    role: str
    source: str = ""


SYSTEM = Actor("sandkasse-egress", "system")


def head_key(master_key: bytes) -> bytes:
    return hmac.new(master_key, b"sandkasse egress audit head v1", hashlib.sha256).digest()


def seal(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


@dataclass
class AuditLog:
    jsonl_path: Path
    seal_key: bytes

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Ship each committed event as a JSON line; events of a rolled-back transaction never appear."""

        @sa_event.listens_for(factory, "after_commit")
        def _ship(session: Session) -> None:
            rows = session.info.pop(_PENDING, [])
            if rows:
                self._write_jsonl(rows)

        @sa_event.listens_for(factory, "after_rollback")
        def _drop(session: Session) -> None:
            session.info.pop(_PENDING, None)

    def record(
        self,
        session: Session,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str,
        detail: dict[str, Any] | None = None,
    ) -> EgressAuditEvent:
        # Lock the head first: every writer queues here, so the chain never forks.
        head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
        last = session.execute(
            select(EgressAuditEvent).order_by(EgressAuditEvent.seq.desc()).limit(1)
        ).scalar_one_or_none()
        prev_hash = last.hash if last is not None else GENESIS
        row = EgressAuditEvent(
            seq=(last.seq + 1) if last is not None else 1,
            at=utcnow(),
            actor=actor.username,
            role=actor.role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            source=actor.source or "",
            detail=json.dumps(detail or {}, sort_keys=True, default=str),
            prev_hash=prev_hash,
        )
        row.hash = event_hash(prev_hash, row.chained_fields())
        session.add(row)
        head.seq = row.seq
        head.hash = row.hash
        head.seal = seal(self.seal_key, row.seq, row.hash)
        session.flush()
        session.info.setdefault(_PENDING, []).append(
            {**row.chained_fields(), "prev_hash": row.prev_hash, "hash": row.hash}
        )
        return row

    def _write_jsonl(self, rows: list[dict[str, Any]]) -> None:
        self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        with _jsonl_lock, self.jsonl_path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()

    def verify(self, session: Session) -> AuditReport:
        return verify(session, self.seal_key, self.jsonl_path)


@dataclass
class AuditReport:
    chain: ChainReport
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems

    def __str__(self) -> str:
        lines = [f"egress: {self.chain}"]
        lines += [f"egress: {p}" for p in self.problems]
        return "\n".join(lines)


def verify(session: Session, seal_key: bytes, jsonl_path: Path | None) -> AuditReport:
    chain = verify_chain(session, EgressAuditEvent)
    report = AuditReport(chain)
    rows = {r.seq: r.hash for r in session.execute(select(EgressAuditEvent.seq, EgressAuditEvent.hash))}
    last_seq = max(rows, default=0)
    head = session.get(AuditHead, 1)
    if head is None:
        report.problems.append("the audit head row is missing")
    else:
        genesis = head.seq == 0 and head.seal == "genesis" and head.hash == GENESIS
        if not genesis and not hmac.compare_digest(head.seal, seal(seal_key, head.seq, head.hash)):
            report.problems.append("the audit head's seal does not match (head edited)")
        if head.seq != last_seq:
            report.problems.append(
                f"the sealed head says the last event is {head.seq} but the table ends at {last_seq}"
                + (" (events cut off the end)" if head.seq > last_seq else "")
            )
        elif last_seq and rows.get(head.seq) != head.hash:
            report.problems.append(f"event {head.seq} does not match the sealed head (rewritten)")
    if jsonl_path is not None and jsonl_path.exists():
        with jsonl_path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                try:
                    entry = json.loads(line)
                    seq, hash_ = int(entry["seq"]), str(entry["hash"])
                except (ValueError, KeyError, TypeError):
                    report.problems.append(f"{jsonl_path}:{lineno} is not a valid audit line")
                    continue
                if seq in rows and rows[seq] != hash_:
                    report.problems.append(f"event {seq} differs from the shipped JSON line {lineno} (edited)")
                elif seq not in rows:
                    report.problems.append(f"event {seq} was shipped ({jsonl_path}:{lineno}) but is not in the table (deleted)")
    return report
