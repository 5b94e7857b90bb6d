"""Settings of the portal, from the environment (prefix ``SANDKASSE_``), next to :class:`sandkasse.settings.Settings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_", env_file=None, extra="ignore")

    portal_client_id: str = Field(default="sandkasse-portal", description="Keycloak client of the portal (confidential)")
    portal_client_secret: str | None = Field(default=None, description="Its client secret (`sandkasse init` writes it)")
    keycloak_issuer: str | None = Field(default=None, description="Expected issuer; default <keycloak_url>/realms/<realm>")
    session_secret: str | None = Field(default=None, description="Secret the session cookies are encrypted under; "
                                       "default: a key derived from the master key")
    web_redirect_url: str | None = Field(default=None, description="Full callback URL registered in Keycloak")
    web_insecure_loopback: bool = Field(default=False, description="Demo/test only: no Secure flag on cookies for "
                                        "plain-HTTP requests to a loopback host")
    web_session_max_seconds: int = Field(default=36000, gt=0)
    hub_public_url: str | None = Field(default=None, description="The hub's public URL (SANDKASSE_HUB_PUBLIC_URL): the "
                                       "applicant's link to the synthetic twin's notebook")
    portal_provision: bool = Field(default=True, description="Provision the project as soon as the controller approves")
    portal_keycloak_sync: bool = Field(default=True, description="Sync the new project's Keycloak group when the "
                                       "Keycloak admin credentials are configured")
