"""Settings of the web UI, from the environment (prefix ``SANDKASSE_``), next to the egress service's own.

The Keycloak location (``SANDKASSE_KEYCLOAK_URL``, ``_REALM``, ``_ISSUER``) is the service's; what
is specific to the browser login lives here.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_", env_file=None, extra="ignore")

    egress_client_id: str = Field(default="sandkasse-egress", description="Keycloak client of the web UI (confidential)")
    egress_client_secret: str | None = Field(default=None, description="Its client secret (`sandkasse init` writes it)")
    session_secret: str | None = Field(
        default=None,
        description="Secret the session cookies are encrypted under (HKDF-derived key); when unset, a key "
        "derived from the master key is used",
    )
    web_redirect_url: str | None = Field(
        default=None,
        description="Full callback URL registered in Keycloak; default: this service's /auth/callback as the "
        "browser reaches it (root path and proxy headers included)",
    )
    web_insecure_loopback: bool = Field(
        default=False,
        description="Demo/test only: leave the Secure flag off session cookies, and only for requests to a "
        "loopback host (127.0.0.1, localhost, ::1) over plain HTTP. Never set it behind the TLS proxy.",
    )
    web_session_max_seconds: int = Field(
        default=36000, gt=0, description="Hard cap on a UI session, whatever Keycloak's refresh token allows"
    )
    web_preview_max_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="Largest file rendered inline on the request page (bigger ones: download)"
    )
    web_preview_max_rows: int = Field(default=500, gt=0, description="Table rows rendered inline per file")
