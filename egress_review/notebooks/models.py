"""One re-execution of a request's notebook per turn (egress table, migration 0006_supporting_notebook)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from egress_review.models import Base, UTCDateTime, new_id
from sandkasse.audit import utcnow

PENDING = "pending"
DONE = "done"      # ran to the end: ``outcome`` says, per output, whether it made the submitted file
FAILED = "failed"  # did not run to the end (error, time limit, no file handed back): ``reason_sealed``


class NotebookRun(Base):
    __tablename__ = "egress_notebook_runs"
    __table_args__ = (UniqueConstraint("request_id", "turn", name="request_turn"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    notebook_version_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    # {output file id: {"name", "status": matches | mismatch | missing}}: names and outcomes only
    outcome: Mapped[str] = mapped_column(Text, default="{}")
    # why it failed (text), or {output file id: why} when it ran: may quote the notebook's output, so
    # sealed like a report and shown only to those who may read content
    reason_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
