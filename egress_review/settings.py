"""Settings of the egress service, from the environment (prefix ``SANDKASSE_``).

The database URL, var dir, policies dir, master key and Keycloak location are the same variables the
other components read (see :mod:`sandkasse.settings`); the rest is specific to the egress service.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sandkasse.settings import Settings


class EgressSettings(Settings):
    """The shared settings (database, var and policies dirs, master key, Keycloak) plus the egress service's own."""

    project_token_key: str | None = Field(
        default=None, description="Shared secret with the hub for project tokens (at least 32 characters)"
    )
    keycloak_audience: str = Field(default="sandkasse-egress", description="Audience every Keycloak token must carry")
    keycloak_issuer: str | None = Field(
        default=None, description="Expected issuer; default <keycloak_url>/realms/<realm> (set it when the public URL differs)"
    )
    egress_dir: Path | None = Field(default=None, description="Quarantine, release area and keys; default <var_dir>/egress")
    egress_policy_file: Path | None = Field(default=None, description="Egress policy; default <policies_dir>/egress.yaml")
    release_signing_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM) signing release manifests; created on a fresh installation only, never replaced"
    )
    release_public_key_file: Path | None = Field(
        default=None, description="Ed25519 public key (PEM) used by `sandkasse verify-release`"
    )

    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses (or networks) of the reverse proxy whose X-Forwarded-* headers are "
        "believed; from anyone else (a sandbox) they are ignored, so the audit source and the rate limit see "
        "the real peer. The proxy of docker-compose.yml connects from 127.0.0.1",
    )

    @property
    def base_dir(self) -> Path:
        return self.egress_dir or (self.var_dir / "egress")

    @property
    def quarantine_dir(self) -> Path:
        return self.base_dir / "quarantine"

    @property
    def release_dir(self) -> Path:
        return self.base_dir / "releases"

    @property
    def scratch_dir(self) -> Path:
        """Private working copies for the checks; removed right after each check."""
        return self.base_dir / "scratch"

    @property
    def audit_jsonl(self) -> Path:
        return self.audit_path / "egress.jsonl"

    @property
    def policy_file(self) -> Path:
        return self.egress_policy_file or (self.policies_dir / "egress.yaml")

    @property
    def signing_key_path(self) -> Path:
        return self.release_signing_key_file or (self.base_dir / "keys" / "release-signing.pem")

    @property
    def public_key_path(self) -> Path:
        return self.release_public_key_file or (self.base_dir / "keys" / "release-signing.pub.pem")

    @property
    def issuer(self) -> str:
        return self.keycloak_issuer or f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"
