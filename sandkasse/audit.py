"""Append-only, hash-chained audit events, shared by provisioning and egress_review.

Each component keeps its own audit table built from :class:`AuditEventMixin`; every row stores the
SHA-256 of its canonical content together with the previous row's hash, so editing, deleting or
reordering any row breaks the chain at a place :func:`verify_chain` reports.

A hash chain alone does not show events cut off the end (what is left is still a valid chain), nor a
chain rewritten from scratch. So each component also keeps a *head* row (:class:`AuditHeadMixin`) that
every append moves to the new last event in the same transaction, sealed with an HMAC under a key
derived from the master key for that component (:func:`head_key`); and a :class:`JsonlShipper` copies
each committed event to a JSON-lines file for a log collector. :func:`verify_sealed` checks all three.

A sealed head alone can be rolled back: whoever can write the database can put back an earlier
(seq, hash, seal) and delete what came after, and every check inside the database still passes. So each
shipped line also carries the seal of the head it produced (``head_seal``): the stream, outside the
database (and copied on by the log collector), is the head's anchor, and verification refuses a table
whose head is behind the last sealed head shipped (:func:`anchor_problems`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

GENESIS = "0" * 64
HEAD_ID = 1
# The head a migration seeds before the first event: nothing to seal yet.
GENESIS_SEAL = "genesis"


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


class AuditHeadMixin:
    """The chain head: the last event's ``seq`` and ``hash``, and ``seal``, an HMAC over both under the
    component's head key. One row (``id`` = :data:`HEAD_ID`), moved in the same transaction as each
    event, so cutting events off the end, or rewriting the chain, leaves a head that no longer fits."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    seal: Mapped[str] = mapped_column(String(64), default="")


def head_key(master_key: bytes, purpose: str) -> bytes:
    """The key that seals one component's head (``purpose``: "egress", "provisioning"), so a seal of
    one chain is worthless on another and the master key itself never signs anything."""
    return hmac.new(master_key, f"sandkasse {purpose} audit head v1".encode(), hashlib.sha256).digest()


def seal(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


def head_values(seq: int, hash_: str, key: bytes | None) -> dict[str, Any]:
    """The values of a head pointing at event ``seq`` (for migrations that seed or adopt a chain).
    Without a key the seal stays empty, which :func:`verify_sealed` reports until the next sealed append."""
    if seq == 0:
        return {"id": HEAD_ID, "seq": 0, "hash": GENESIS, "seal": GENESIS_SEAL}
    return {"id": HEAD_ID, "seq": seq, "hash": hash_, "seal": seal(key, seq, hash_) if key else ""}


@dataclass(frozen=True)
class SealedHead:
    """A component's head table (the columns of :class:`AuditHeadMixin`) and its sealing key
    (``None``: no master key configured here)."""

    model: type[Any]
    key: bytes | None


class JsonlShipper:
    """Copies events to a JSON-lines file once their transaction commits; events of a rolled-back
    transaction never appear. ``path`` may be a callable, read at each commit."""

    def __init__(self, path: Path | Callable[[], Path]) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path() if callable(self._path) else self._path

    def attach(self, target: sessionmaker[Session] | type[Session]) -> None:
        """Listen on one session factory, or on a Session class for every session made from it."""
        sa_event.listen(target, "after_commit", self._ship)
        sa_event.listen(target, "after_rollback", self._forget)

    def queue(self, session: Session, row: AuditEventMixin, head_seal: str = "") -> None:
        line = {**row.chained_fields(), "prev_hash": row.prev_hash, "hash": row.hash}
        if head_seal:
            line["head_seal"] = head_seal
        session.info.setdefault(self, []).append(line)

    def _ship(self, session: Session) -> None:
        lines = session.info.pop(self, None)
        if not lines:
            return
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n" for line in lines)
        with self._lock, path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()

    def _forget(self, session: Session) -> None:
        session.info.pop(self, None)


def _lock_head(session: Session, head: SealedHead, model: type[AuditEventMixin]) -> AuditHeadMixin:
    row = session.execute(select(head.model).where(head.model.id == HEAD_ID).with_for_update()).scalar_one_or_none()
    if row is not None:
        return row
    # Only an empty chain may start a head: a missing head over existing events is a deleted head.
    if session.execute(select(model.seq).limit(1)).first() is not None:
        raise RuntimeError(f"{head.model.__tablename__} has no head row but {model.__tablename__} has events")
    row = head.model(**head_values(0, GENESIS, None))
    session.add(row)
    session.flush()
    return row


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
    head: SealedHead | None = None,
    shipper: JsonlShipper | None = None,
) -> AuditEventMixin:
    """Add the next event to ``session`` (the caller's transaction commits it with the change it records).

    Writers serialise on a row lock where the database has one: on the head row when there is a
    ``head`` (it exists even for an empty chain), else on the last event. SQLite serialises writers
    anyway. A duplicate ``seq`` from a race fails the transaction rather than forking the chain
    (``seq`` is the primary key). ``shipper`` ships the event once the transaction commits.
    """
    current = _lock_head(session, head, model) if head is not None else None
    last_query = select(model).order_by(model.seq.desc()).limit(1)
    if current is None:
        last_query = last_query.with_for_update()
    last = session.execute(last_query).scalar_one_or_none()
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
    if current is not None:
        current.seq = row.seq
        current.hash = row.hash
        current.seal = seal(head.key, row.seq, row.hash) if head.key else ""
    session.flush()
    if shipper is not None:
        shipper.queue(session, row, current.seal if current is not None else "")
    return row


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


SHOWN_PROBLEMS = 20  # a report lists the first ones; a wholesale rewrite would otherwise print every line


@dataclass
class AuditReport:
    """A chain's verdict: the chain itself, plus what the sealed head and the shipped lines show."""

    component: str
    chain: ChainReport
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems

    def __str__(self) -> str:
        shown = self.problems[:SHOWN_PROBLEMS]
        more = len(self.problems) - len(shown)
        lines = [str(self.chain), *shown] + ([f"... and {more} more problems"] if more else [])
        return "\n".join(f"{self.component}: {line}" for line in lines)


def head_problems(session: Session, head: SealedHead, rows: dict[int, str]) -> list[str]:
    """What the sealed head says about a chain whose events are ``rows`` (seq -> hash)."""
    last_seq = max(rows, default=0)
    row = session.get(head.model, HEAD_ID)
    if row is None:
        return ["the audit head row is missing"]
    problems = []
    genesis = row.seq == 0 and row.seal == GENESIS_SEAL and row.hash == GENESIS
    if not genesis:
        if not row.seal:
            problems.append(f"the audit head is not sealed (event {row.seq} was recorded without a master key)")
        elif head.key is None:
            problems.append("cannot check the audit head's seal: no master key")
        elif not hmac.compare_digest(row.seal, seal(head.key, row.seq, row.hash)):
            problems.append("the audit head's seal does not match (head edited)")
    if row.seq != last_seq:
        problems.append(
            f"the sealed head says the last event is {row.seq} but the table ends at {last_seq}"
            + (" (events cut off the end)" if row.seq > last_seq else "")
        )
    elif last_seq and rows.get(row.seq) != row.hash:
        problems.append(f"event {row.seq} does not match the sealed head (rewritten)")
    return problems


def jsonl_problems(path: Path, rows: dict[int, str]) -> list[str]:
    """Shipped lines that the table no longer has, or has with other content."""
    problems = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                entry = json.loads(line)
                seq, hash_ = int(entry["seq"]), str(entry["hash"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"{path}:{lineno} is not a valid audit line")
                continue
            if seq not in rows:
                problems.append(f"event {seq} was shipped ({path}:{lineno}) but is not in the table (deleted)")
            elif rows[seq] != hash_:
                problems.append(f"event {seq} differs from the shipped JSON line {lineno} (edited)")
    return problems


def anchor_problems(path: Path, head_row: AuditHeadMixin | None, key: bytes | None) -> list[str]:
    """Compare the table's head with the last sealed head shipped to ``path`` (the anchor outside the
    database): a head behind it was rolled back, one at the same event with another hash rewritten."""
    if head_row is None or key is None:
        return []  # reported by head_problems
    if not path.exists():
        if head_row.seq == 0:
            return []
        return [f"the shipped audit stream {path} is missing: the sealed head (event {head_row.seq}) has no anchor "
                "outside the database, so a rolled-back head would not show"]
    problems: list[str] = []
    anchor: tuple[int, str, int] | None = None
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                entry = json.loads(line)
                seq, hash_, head_seal = int(entry["seq"]), str(entry["hash"]), str(entry.get("head_seal", ""))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # reported by jsonl_problems
            if not head_seal:
                continue  # shipped before heads were anchored, or without a master key
            if not hmac.compare_digest(head_seal, seal(key, seq, hash_)):
                problems.append(f"{path}:{lineno} carries a head seal that does not match (forged line)")
            elif anchor is None or seq > anchor[0]:
                anchor = (seq, hash_, lineno)
    if anchor is None:
        return problems
    seq, hash_, lineno = anchor
    if head_row.seq < seq:
        problems.append(
            f"the audit head was rolled back: the table's sealed head is event {head_row.seq}, but the shipped "
            f"stream's last sealed head is event {seq} ({path}:{lineno})"
        )
    elif head_row.seq == seq and head_row.hash != hash_:
        problems.append(f"the audit head differs from the last shipped sealed head, event {seq} ({path}:{lineno}) (rewritten)")
    return problems


def verify_sealed(
    session: Session,
    model: type[AuditEventMixin],
    head: SealedHead,
    jsonl_path: Path | None,
    component: str,
) -> AuditReport:
    """The chain (links, content hashes), its sealed head (cut tail, rewrite) and its shipped lines."""
    report = AuditReport(component, verify_chain(session, model))
    rows = {seq: hash_ for seq, hash_ in session.execute(select(model.seq, model.hash))}
    report.problems += head_problems(session, head, rows)
    if jsonl_path is not None:
        if jsonl_path.exists():
            report.problems += jsonl_problems(jsonl_path, rows)
        report.problems += anchor_problems(jsonl_path, session.get(head.model, HEAD_ID), head.key)
    return report
