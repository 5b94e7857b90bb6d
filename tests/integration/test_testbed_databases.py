"""The same SQLAlchemy models and the audit hash chain on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Numeric, String, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sandkasse.audit import AuditEventMixin, append_event, verify_chain
from sandkasse.db import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Widget(Base):
    __tablename__ = "tb_widget"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    made_at: Mapped[datetime]


class WidgetAudit(AuditEventMixin, Base):
    __tablename__ = "tb_widget_audit"


def test_model_round_trips(database_url: str) -> None:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    made = datetime(2026, 1, 2, 3, 4, 5)
    with session_scope(factory) as s:
        s.add(Widget(name="ærlig østers på å", amount=Decimal("1234.50"), made_at=made))
    with session_scope(factory) as s:
        w = s.execute(select(Widget)).scalar_one()
        assert (w.name, w.amount, w.made_at) == ("ærlig østers på å", Decimal("1234.50"), made)
    assert engine.dialect.name == make_url(database_url).get_backend_name()
    engine.dispose()


def test_fresh_database_per_test(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert not engine.dialect.get_table_names(conn)  # nothing left over from the other tests
    engine.dispose()


def test_audit_chain_detects_an_edit(database_url: str) -> None:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    for i in range(5):
        with session_scope(factory) as s:
            append_event(s, WidgetAudit, actor=f"user{i}", role="admin", action="create",
                         object_type="widget", object_id=str(i), detail={"n": i})  # fmt: skip
    with session_scope(factory) as s:
        report = verify_chain(s, WidgetAudit)
        assert report.ok and report.events == 5
        at = s.execute(select(WidgetAudit.at).where(WidgetAudit.seq == 1)).scalar_one()
        assert at.replace(tzinfo=at.tzinfo or UTC).year >= 2026
    with session_scope(factory) as s:
        s.execute(update(WidgetAudit).where(WidgetAudit.seq == 3).values(actor="mallory"))
    with session_scope(factory) as s:
        report = verify_chain(s, WidgetAudit)
        assert not report.ok and report.first_bad_seq == 3 and "edited" in report.problem
    with session_scope(factory) as s:  # repair the edit, then delete a row
        s.execute(update(WidgetAudit).where(WidgetAudit.seq == 3).values(actor="user2"))
        s.execute(text("DELETE FROM tb_widget_audit WHERE seq = 2"))
    with session_scope(factory) as s:
        report = verify_chain(s, WidgetAudit)
        assert not report.ok and report.first_bad_seq == 3
    engine.dispose()
