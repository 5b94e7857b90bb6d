"""sandkasse.audit: an intact chain verifies; an edited, deleted or reordered event is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import DeclarativeBase, Session

from sandkasse.audit import AuditEventMixin, append_event, verify_chain, verify_rows
from sandkasse.db import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.unit


class Base(DeclarativeBase):
    pass


class Audit(AuditEventMixin, Base):
    __tablename__ = "unit_audit"


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
