"""The provisioning policy (``policies/provisioning.yaml``) as a validated pydantic model."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from sandkasse.policy import load_policy


class RiskPolicy(BaseModel):
    min_k: int = Field(ge=1)
    min_l: int = Field(ge=1)
    highest_risk_records: int = Field(ge=0)


class PseudonymisationPolicy(BaseModel):
    algorithm: Literal["hmac-sha256"]
    hex_chars: int = Field(ge=12, le=64)


class GeneralisationPolicy(BaseModel):
    age_reference: Literal["start_date"]


class ExtractPolicy(BaseModel):
    formats: list[Literal["parquet", "csv"]]
    on_close: Literal["delete", "archive"]
    file_mode: str

    @property
    def mode(self) -> int:
        return int(self.file_mode, 8)


class KeycloakPolicy(BaseModel):
    group_prefix: str
    realm_roles: list[str]
    member_role: str
    admin_user_env: str
    admin_password_env: str
    secrets_file: str


class ProvisioningPolicy(BaseModel):
    version: int
    risk: RiskPolicy
    pseudonymisation: PseudonymisationPolicy
    generalisation: GeneralisationPolicy
    extracts: ExtractPolicy
    keycloak: KeycloakPolicy


def load(path: Path | None = None) -> ProvisioningPolicy:
    return load_policy(ProvisioningPolicy, "provisioning", path=path)


@lru_cache
def current() -> ProvisioningPolicy:
    return load()
