"""The outbox and the per-user notification preference (egress tables, migration 0004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from egress_review.models import Base, UTCDateTime, new_id
from sandkasse.audit import utcnow


class OutboxMessage(Base):
    """One message to one recipient on one channel. Written with the state change it announces; the
    sender claims it (``claimed_at``/``claim``), sends it and sets ``sent_at``."""

    __tablename__ = "egress_outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(320))  # an address, or "webhook"
    username: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # not before: now for immediate delivery, the end of the digest period otherwise
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # sent together with the recipient's other digest notices of the period (else on its own)
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class NotifyPreference(Base):
    """How a checker wants to hear of waiting requests: ``immediate`` (default) or ``digest``."""

    __tablename__ = "egress_notify_prefs"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), default="immediate")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
