"""Request and response models of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from egress_review.states import FileKind, Visibility, VoteDecision

T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    # Times are stored in UTC, but SQLite hands them back naive; RFC 3339 (the schema's date-time)
    # needs the offset, so a client never has to guess the zone.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class _In(BaseModel):
    # Unknown fields are an error, not silently ignored: a typo must not drop a control.
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. not_found, conflict, invalid_input")
    message: str = Field(description="What went wrong, in plain words")
    detail: Any | None = Field(default=None, description="Structured detail where it helps (fields, files)")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class RequestCreate(_In):
    title: str = Field(default="", max_length=200)


class FileCreate(_In):
    name: str = Field(description="Plain file name; its extension declares the type (checked by content)")
    kind: FileKind = FileKind.OUTPUT
    context: str = Field(default="", description="What this output is (required before submitting)")
    controls: str = Field(default="", description="What was done to make it safe (required before submitting)")
    sidecar: dict[str, Any] | None = Field(default=None, description="Disclosure metadata from egress_review.sdc")


class FileUpdate(_In):
    context: str | None = None
    controls: str | None = None
    sidecar: dict[str, Any] | None = None


class VoteIn(_In):
    decision: VoteDecision
    comment: str = ""
    visibility: Visibility = Visibility.CHECKERS
    # with changes_requested: return the automatic checks' safe version to the researcher (two-person)
    attach_suggestion: bool = False


class CommentIn(_In):
    text: str
    visibility: Visibility = Visibility.CHECKERS
    file_id: str | None = None


class DecisionIn(_In):
    comment: str = ""


class VersionOut(BaseModel):
    id: str
    number: int
    size: int
    sha256: str
    detected_type: str
    verdict: str
    check_report: dict[str, Any]
    created_at: UtcDateTime


class VoteOut(BaseModel):
    reviewer: str
    decision: VoteDecision
    comment: str
    visibility: Visibility
    created_at: UtcDateTime


class FileOut(BaseModel):
    id: str
    name: str
    kind: FileKind
    context: str
    controls: str
    decision: str = Field(description="pending until reviews are unblinded")
    withdrawn: bool
    current_version: VersionOut | None
    versions: list[VersionOut]
    votes: list[VoteOut]


class CommentOut(BaseModel):
    id: str
    file_id: str | None
    author: str
    author_role: str
    text: str
    visibility: Visibility
    turn: int
    created_at: UtcDateTime


class RequestSummary(BaseModel):
    id: str
    project: str
    requester: str
    title: str
    state: str
    owner: str = Field(description="Who acts next: researcher, checkers or system")
    turn: int
    created_at: UtcDateTime
    updated_at: UtcDateTime
    submitted_at: UtcDateTime | None
    decided_at: UtcDateTime | None
    file_count: int
    worst_verdict: str | None


class RequestDetail(RequestSummary):
    files: list[FileOut]
    comments: list[CommentOut]
    reviews_submitted: int
    required_approvals: int
    my_review_submitted: bool
    allowed_actions: list[str]
    release_id: str | None


class UploadOut(BaseModel):
    file: FileOut
    version: VersionOut


class ReleasedFileOut(BaseModel):
    name: str
    sha256: str
    size: int


class ReleaseOut(BaseModel):
    id: str
    request_id: str
    project: str
    released_at: UtcDateTime
    files: list[ReleasedFileOut]


class SignedManifest(BaseModel):
    manifest: dict[str, Any]
    signature: str


class MeOut(BaseModel):
    username: str
    roles: list[str]
    project: str | None
    via: str


class AuditEventOut(BaseModel):
    seq: int
    at: UtcDateTime
    actor: str
    role: str
    action: str
    object_type: str
    object_id: str
    source: str
    detail: dict[str, Any]
    hash: str


class AuditOut(BaseModel):
    ok: bool
    report: str
    events: Page[AuditEventOut]
