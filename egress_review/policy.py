"""The egress policy (``policies/egress.yaml``) as a validated model: review rule, upload limits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandkasse.policy import load_policy
from sandkasse.mail import SmtpPolicy  # shared with provisioning's application notices


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewPolicy(_Strict):
    required_approvals: int = Field(default=2, ge=1)
    forbid_member_review: bool = True


class UploadPolicy(_Strict):
    max_file_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_json_bytes: int = Field(default=1024 * 1024, gt=0)
    max_files_per_request: int = Field(default=50, gt=0)
    max_text_chars: int = Field(default=5000, gt=0)
    max_name_chars: int = Field(default=200, gt=0)
    allowed_types: list[str] = ["csv", "tsv", "xlsx", "parquet", "png", "svg", "pdf", "txt", "md", "json", "ipynb"]
    xlsx_max_uncompressed_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    xlsx_max_compression_ratio: int = Field(default=100, gt=0)
    xlsx_max_members: int = Field(default=1000, gt=0)
    table_max_rows: int = Field(default=1_000_000, gt=0)
    table_max_cells: int = Field(default=5_000_000, gt=0)
    parquet_max_uncompressed_bytes: int = Field(default=500 * 1024 * 1024, gt=0)
    parse_memory_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=512 * 1024 * 1024)
    pdf_outputs: Literal["refuse", "as_uploaded"] = "refuse"
    check_in_process_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    check_workers: int = Field(default=2, ge=0)
    check_lease_seconds: int = Field(default=900, gt=0)
    check_max_attempts: int = Field(default=3, ge=1)
    check_sweep_seconds: float = Field(default=5.0, gt=0)


class TokenPolicy(_Strict):
    project_token_max_ttl_seconds: int = Field(default=86400, gt=0)


class ApiPolicy(_Strict):
    page_size_default: int = Field(default=50, gt=0)
    page_size_max: int = Field(default=200, gt=0)


class RateLimitPolicy(_Strict):
    anonymous_per_minute: int = Field(default=300, gt=0)
    anonymous_burst: int = Field(default=60, gt=0)


class ClosedProjectsPolicy(_Strict):
    unreleased_files: Literal["delete", "archive"] = "delete"
    sweep_seconds: float = Field(default=60.0, gt=0)


class WebhookPolicy(_Strict):
    url: str
    # which events go to the shared channel (decisions stay with the researcher's own mail)
    events: list[str] = ["waiting", "second_review"]


class NotificationPolicy(_Strict):
    enabled: bool = False
    base_url: str = ""
    smtp: SmtpPolicy | None = None
    webhook: WebhookPolicy | None = None
    # addresses for people provisioning has none for (username -> address)
    emails: dict[str, str] = {}
    # checkers to tell when provisioning knows of none (usernames)
    checkers: list[str] = []
    digest_seconds: int = Field(default=3600, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    sweep_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=20, ge=1)


class DPPolicy(_Strict):
    # "review": a DP answer leaves only as an exported table that two checkers approve (the guarantee
    # shown); "release": its requester may release it without human review (audited, signed manifest
    # with epsilon/rho and mechanism; egress_review/dp_service/release.py)
    answers: Literal["review", "release"] = "review"


class NotebookPolicy(_Strict):
    # Re-run the notebook a request carries (attached by request_export) before review, in a fresh
    # sandbox container (egress_review/notebooks/worker.py): checkers see "matches", "does not match"
    # (a fail) or "failed to run", and cannot vote until it has run.
    reexecute: bool = False
    image: str = ""  # the notebook image; empty: SANDKASSE_NOTEBOOK_IMAGE
    timeout_seconds: int = Field(default=600, gt=0, le=3600)  # the whole run; the container is killed after
    cell_timeout_seconds: int = Field(default=300, gt=0)
    max_output_bytes: int = Field(default=50 * 1024 * 1024, gt=0)  # what the container may hand back
    lease_seconds: int = Field(default=1200, gt=0)
    max_attempts: int = Field(default=2, ge=1)
    sweep_seconds: float = Field(default=10.0, gt=0)


class EgressPolicy(_Strict):
    version: int = 1
    review: ReviewPolicy = ReviewPolicy()
    uploads: UploadPolicy = UploadPolicy()
    tokens: TokenPolicy = TokenPolicy()
    api: ApiPolicy = ApiPolicy()
    rate_limits: RateLimitPolicy = RateLimitPolicy()
    closed_projects: ClosedProjectsPolicy = ClosedProjectsPolicy()
    notifications: NotificationPolicy = NotificationPolicy()
    dp: DPPolicy = DPPolicy()
    notebooks: NotebookPolicy = NotebookPolicy()


def load_egress_policy(path: Path | None = None) -> EgressPolicy:
    return load_policy(EgressPolicy, name="egress", path=path)
