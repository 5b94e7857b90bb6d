"""sandkasse.audit: an intact chain verifies; an edited, deleted or reordered event is named; the sealed
head shows a cut tail; the JSON-lines shipper writes committed events only, each to its own file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import DeclarativeBase, Session

from sandkasse.audit import (
    AuditEventMixin,
    AuditHeadMixin,
    JsonlShipper,
    SealedHead,
    append_event,
    head_key,
    verify_chain,
    verify_rows,
    verify_sealed,
)
from sandkasse.db import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.unit


class Base(DeclarativeBase):
    pass


class Audit(AuditEventMixin, Base):
    __tablename__ = "unit_audit"


class Head(AuditHeadMixin, Base):
    __tablename__ = "unit_audit_head"


class OtherAudit(AuditEventMixin, Base):
    __tablename__ = "unit_other_audit"


@pytest.fixture
def factory(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    for i in range(1, 6):
        with session_scope(factory) as s:
            append_event(s, Audit, actor=f"u{i}", role="researcher", action="submit",
                         object_type="request", object_id=str(i), detail={"i": i})  # fmt: skip
    yield factory
    engine.dispose()


def _rows(s: Session) -> list[Audit]:
    return list(s.execute(select(Audit).order_by(Audit.seq)).scalars())


def test_intact_chain_verifies(factory) -> None:
    with session_scope(factory) as s:
        report = verify_chain(s, Audit)
    assert report.ok and report.events == 5
    assert "OK" in str(report)


def test_edited_row_is_detected(factory) -> None:
    with session_scope(factory) as s:
        s.execute(text("UPDATE unit_audit SET detail = '{\"i\": 99}' WHERE seq = 4"))
    with session_scope(factory) as s:
        report = verify_chain(s, Audit)
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.problem


def test_deleted_row_is_detected(factory) -> None:
    with session_scope(factory) as s:
        s.execute(text("DELETE FROM unit_audit WHERE seq = 2"))
    with session_scope(factory) as s:
        report = verify_chain(s, Audit)
    assert not report.ok and report.first_bad_seq == 3 and "deleted" in report.problem


def test_reordered_rows_are_detected(factory) -> None:
    with session_scope(factory) as s:
        rows = _rows(s)
    rows[1], rows[2] = rows[2], rows[1]
    report = verify_rows(rows)
    assert not report.ok and report.first_bad_seq == 3


def test_rehashed_edit_still_breaks_the_link(factory) -> None:
    """An attacker who edits a row and recomputes its hash breaks the next row's link."""
    from sandkasse.audit import event_hash

    with session_scope(factory) as s:
        row = s.get(Audit, 2)
        row.actor = "mallory"
        row.hash = event_hash(row.prev_hash, row.chained_fields())
    with session_scope(factory) as s:
        report = verify_chain(s, Audit)
    assert not report.ok and report.first_bad_seq == 3 and "link" in report.problem


def _append(s: Session, model, head: SealedHead | None, shipper: JsonlShipper | None, i: int) -> None:
    append_event(s, model, actor="u", role="admin", action="a", object_type="t", object_id=str(i),
                 head=head, shipper=shipper)  # fmt: skip


def test_sealed_head_and_shippers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sealed.db'}")
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    ours, theirs = JsonlShipper(tmp_path / "ours.jsonl"), JsonlShipper(lambda: tmp_path / "theirs.jsonl")
    ours.attach(factory)
    theirs.attach(factory)
    head = SealedHead(Head, head_key(b"k" * 32, "unit"))
    for i in range(3):
        with session_scope(factory) as s:  # both chains in one transaction: each line goes to its own file
            _append(s, Audit, head, ours, i)
            _append(s, OtherAudit, None, theirs, i)
    with pytest.raises(RuntimeError), session_scope(factory) as s:
        _append(s, Audit, head, ours, 99)
        raise RuntimeError("rolled back: neither the event nor its line exists")
    assert [json.loads(x)["seq"] for x in (tmp_path / "ours.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert len((tmp_path / "theirs.jsonl").read_text().splitlines()) == 3
    with session_scope(factory) as s:
        assert verify_sealed(s, Audit, head, tmp_path / "ours.jsonl", "unit").ok
        s.execute(text("DELETE FROM unit_audit WHERE seq = 3"))
    (tmp_path / "ours.jsonl").unlink()
    with session_scope(factory) as s:
        report = verify_sealed(s, Audit, head, None, "unit")
        wrong_key = verify_sealed(s, Audit, SealedHead(Head, head_key(b"k" * 32, "other")), None, "unit")
    assert report.chain.ok and not report.ok
    assert str(report).splitlines() == [
        "unit: audit chain OK: 2 events",
        "unit: the sealed head says the last event is 3 but the table ends at 2 (events cut off the end)",
    ]
    assert "unit: the audit head's seal does not match (head edited)" in str(wrong_key)
    engine.dispose()


def test_a_report_lists_the_first_problems_and_counts_the_rest():
    from sandkasse.audit import SHOWN_PROBLEMS, AuditReport, ChainReport

    report = AuditReport("egress", ChainReport(True, 3), [f"problem {i}" for i in range(SHOWN_PROBLEMS + 7)])
    lines = str(report).splitlines()
    assert not report.ok and lines[0] == "egress: audit chain OK: 3 events"
    assert lines[1:-1] == [f"egress: problem {i}" for i in range(SHOWN_PROBLEMS)]
    assert lines[-1] == "egress: ... and 7 more problems"
