"""One settings object for every component, read from the environment (prefix ``SANDKASSE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_", env_file=None, extra="ignore")

    var_dir: Path = Field(default=REPO_ROOT / "var", description="State, caches and logs (git-ignored)")
    policies_dir: Path = Field(default=REPO_ROOT / "policies", description="Reviewed, versioned policy YAML")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under var_dir")
    master_key_file: Path | None = Field(default=None, description="Key file for the master key (32 bytes, base64)")
    master_key: str | None = Field(default=None, description="Master key, base64; wins over master_key_file")
    keycloak_url: str = "http://127.0.0.1:8180"
    keycloak_realm: str = "sandkasse"
    audit_dir: Path | None = Field(default=None, description="Audit JSON lines for the log collector; default var_dir/audit")

    @property
    def cache_dir(self) -> Path:
        return self.var_dir / "cache"

    @property
    def audit_path(self) -> Path:
        return self.audit_dir or self.var_dir / "audit"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.var_dir / 'sandkasse.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
