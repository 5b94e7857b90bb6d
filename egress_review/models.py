"""Tables of the egress service (SQLAlchemy 2.0). Schema changes go through ``egress_review/migrations``.

Vocabulary follows :mod:`egress_review.states`: a *release request* of one project and one requester
holds *files* (outputs and supporting files); each file has immutable *versions* (encrypted blobs in
the quarantine store, with their automatic check report); checkers cast *votes* on a file version and
*submit reviews* per turn; *comments* are checkers-only or shared; a *release* carries a signed manifest.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from sandkasse.audit import AuditEventMixin, utcnow
from sandkasse.db import NAMING_CONVENTION


class UTCDateTime(TypeDecorator):
    """Timestamps are UTC and stay timezone-aware (SQLite would hand them back naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    # Own metadata and table prefix (egress tables share the database with provisioning), the shared naming.
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ReleaseRequest(Base):
    __tablename__ = "egress_requests"
    __table_args__ = (UniqueConstraint("requester", "idempotency_key", name="requester_idempotency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    title: Mapped[str] = mapped_column(String(200), default="")
    # Bumped on every (re)submission; reviews and blinding are per turn.
    turn: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    files: Mapped[list[RequestFile]] = relationship(
        back_populates="request", order_by="RequestFile.created_at", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[ReviewSubmission]] = relationship(back_populates="request", cascade="all, delete-orphan")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="request", order_by="Comment.created_at", cascade="all, delete-orphan"
    )


class RequestFile(Base):
    __tablename__ = "egress_files"
    __table_args__ = (UniqueConstraint("request_id", "name", name="request_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20), default="output")
    context: Mapped[str] = mapped_column(Text, default="")
    controls: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(20), default="pending")
    withdrawn: Mapped[bool] = mapped_column(default=False)
    # Sidecar (JSON, sealed) of the check engine for the next upload; copied into the version it checks.
    sidecar: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Version checkers vote on; None until the first upload finished.
    current_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Turn in which the current version was uploaded (votes are reset when it changes).
    version_turn: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="files")
    versions: Mapped[list[FileVersion]] = relationship(
        back_populates="file", order_by="FileVersion.number", cascade="all, delete-orphan"
    )
    votes: Mapped[list[Vote]] = relationship(back_populates="file", cascade="all, delete-orphan")

    @property
    def current_version(self) -> FileVersion | None:
        return next((v for v in self.versions if v.id == self.current_version_id), None)


class FileVersion(Base):
    """One immutable upload. The blob is encrypted with its own data key, wrapped by the master key."""

    __tablename__ = "egress_file_versions"
    __table_args__ = (UniqueConstraint("file_id", "number", name="file_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    file_id: Mapped[str] = mapped_column(ForeignKey("egress_files.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    detected_type: Mapped[str] = mapped_column(String(20))
    blob: Mapped[str] = mapped_column(String(255))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    sidecar: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed, see QuarantineStore.seal
    # "pending" until the automatic checks have run (they run beside the API, not inside the upload
    # call, see egress_review.checking); then pass, review or fail.
    verdict: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A check worker's lease on a pending version: another process takes it over once it expires.
    check_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Rules, coordinates and reasons only: flag messages and the suggested table quote cell values,
    # so the full report is kept encrypted (check_report_sealed) like the file itself.
    check_report: Mapped[str] = mapped_column(Text, default="{}")
    check_report_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The report's per-cell outcomes, sealed apart: nearly all of a table's report, needed only by the
    # preview and the report endpoint, not by every view of the request.
    check_cells_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    file: Mapped[RequestFile] = relationship(back_populates="versions")


class Vote(Base):
    __tablename__ = "egress_votes"
    __table_args__ = (UniqueConstraint("file_id", "reviewer", name="file_reviewer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    file_id: Mapped[str] = mapped_column(ForeignKey("egress_files.id"), index=True)
    version_id: Mapped[str] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(20), default="checkers")
    # "Return with the suggested table": the checker asks that the automatic safe version go back to
    # the researcher; it does only when every vote on the version asks the same (egress_review.suggestions).
    attach_suggestion: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    file: Mapped[RequestFile] = relationship(back_populates="votes")


class ReturnSuggestion(Base):
    """The automatically computed safe version of a file, attached to a returned request for its
    researcher: a sealed snapshot (it quotes cell values), readable only where
    :func:`egress_review.permissions.may_read_content` allows."""

    __tablename__ = "egress_return_suggestions"
    __table_args__ = (UniqueConstraint("file_id", "version_id", name="file_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), index=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("egress_files.id"), index=True)
    version_id: Mapped[str] = mapped_column(String(32))
    turn: Mapped[int] = mapped_column(Integer)
    csv_sealed: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # blank data cells of the suggestion (metadata: no value is quoted)
    blank_cells: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewSubmission(Base):
    """A checker has finished voting on every output file in a turn (their review is in)."""

    __tablename__ = "egress_reviews"
    __table_args__ = (UniqueConstraint("request_id", "reviewer", "turn", name="request_reviewer_turn"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(255))
    turn: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="reviews")


class Comment(Base):
    __tablename__ = "egress_comments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), index=True)
    file_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    author: Mapped[str] = mapped_column(String(255))
    author_role: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(20))
    turn: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ReleaseRequest] = relationship(back_populates="comments")


class Release(Base):
    __tablename__ = "egress_releases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("egress_requests.id"), unique=True)
    project: Mapped[str] = mapped_column(String(100), index=True)
    manifest: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    files: Mapped[list[ReleasedFile]] = relationship(back_populates="release", cascade="all, delete-orphan")


class ReleasedFile(Base):
    __tablename__ = "egress_released_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    release_id: Mapped[str] = mapped_column(ForeignKey("egress_releases.id"), index=True)
    file_id: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(500))

    release: Mapped[Release] = relationship(back_populates="files")


class EgressAuditEvent(AuditEventMixin, Base):
    __tablename__ = "egress_audit_events"


class AuditHead(Base):
    """The chain head, kept in the same transaction as each event and sealed with an HMAC under the
    master key, so cutting events off the end of the chain (which leaves a valid shorter chain) shows."""

    __tablename__ = "egress_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    seal: Mapped[str] = mapped_column(String(64), default="")
