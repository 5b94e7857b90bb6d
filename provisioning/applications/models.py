"""The application tables (migration 0005): applications, their decisions and comments, who owns which
dataset (the dataset owners who decide on their part), and the notices waiting to be e-mailed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from provisioning.models import Base
from sandkasse.audit import utcnow


def new_id() -> str:
    return uuid.uuid4().hex


class Application(Base):
    """One data-access application. ``content`` is the applicant's answers
    (:class:`~provisioning.applications.content.ApplicationContent` as JSON), replaced whole on every
    save; ``state`` moves only through :mod:`provisioning.applications.states`."""

    __tablename__ = "prov_applications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    applicant: Mapped[str] = mapped_column(String(255), index=True)
    applicant_email: Mapped[str] = mapped_column(String(320), default="")
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32), index=True)
    # the active project an amendment changes (None: the application asks for a new project)
    amends: Mapped[str | None] = mapped_column(String(63), nullable=True)
    # the project it became (set when provisioned)
    project_slug: Mapped[str | None] = mapped_column(String(63), nullable=True)
    provision_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    decisions: Mapped[list[ApplicationDecision]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationDecision.at")
    comments: Mapped[list[ApplicationComment]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ApplicationComment.at")


class ApplicationDecision(Base):
    """One decision-maker's decision at one stage (a dataset owner's on one dataset)."""

    __tablename__ = "prov_application_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("prov_applications.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(32))  # the application's state when decided
    dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # which round of review (a returned application's resubmission starts a new one)
    round: Mapped[int] = mapped_column(Integer, default=1)
    decider: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(32))  # approve | return | reject
    reasons: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship(back_populates="decisions")


class ApplicationComment(Base):
    """A comment, shared with the applicant or internal to the decision-makers."""

    __tablename__ = "prov_application_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("prov_applications.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship(back_populates="comments")


class DatasetOwner(Base):
    """Who decides on applications for a dataset (besides holding the realm role ``dataset-owner``)."""

    __tablename__ = "prov_dataset_owners"
    __table_args__ = (UniqueConstraint("dataset_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(255), index=True)


class ApplicationNotice(Base):
    """An e-mail to send, written in the transaction of the change it announces; the sender claims it,
    sends it and sets ``sent_at`` (at least once)."""

    __tablename__ = "prov_application_notices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(255), default="")
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
