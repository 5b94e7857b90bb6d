"""The applications policy (``policies/applications.yaml``) as a validated model."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sandkasse.mail import SmtpPolicy
from sandkasse.policy import load_policy


class NoticePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    smtp: SmtpPolicy | None = None
    lease_seconds: float = Field(default=60, gt=0)
    sweep_seconds: float = Field(default=5, gt=0)
    max_attempts: int = Field(default=20, ge=1)


class ApplicationsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    portal_url: str = ""
    notifications: NoticePolicy = NoticePolicy()


def load(path: Path | None = None) -> ApplicationsPolicy:
    return load_policy(ApplicationsPolicy, "applications", path=path)


@lru_cache
def current() -> ApplicationsPolicy:
    return load()
