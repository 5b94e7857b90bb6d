"""Settings of the hub, from the environment (prefix ``SANDKASSE_HUB_``; Keycloak location and the
database come from the shared ``SANDKASSE_*`` settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandkasse.settings import REPO_ROOT


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_HUB_", env_file=None, extra="ignore")

    state_dir: Path = Field(default=REPO_ROOT / "var" / "hub", description="Hub database, cookie secret, logs")
    public_url: str = Field(default="http://127.0.0.1:8000", description="Where browsers reach the hub (proxy)")
    port: int = Field(default=8000, description="Public proxy port")
    api_port: int | None = Field(default=None, description="Hub API port sandboxes call; default policy network.hub_api_port")
    proxy_api_port: int = Field(default=8001, description="Proxy's REST API port (loopback only)")
    spawner: str = Field(default="project-docker", description="Spawner entry point; 'docker' (plain DockerSpawner) only for the benchmark baseline")
    plain_network: str = Field(default="bridge", description="Docker network of the plain DockerSpawner baseline")
    authenticator: str = Field(default="sandkasse-keycloak", description="JupyterHub authenticator entry point or class")
    client_id: str = Field(default="sandkasse-hub", description="Keycloak client of the hub")
    client_secret: str = Field(default="", description="Keycloak client secret of the hub")
    keycloak_public_url: str = Field(default="", description="Keycloak URL as browsers reach it; default SANDKASSE_KEYCLOAK_URL")
    notebook_image: str = Field(default="sandkasse/notebook:latest", description="Notebook image tag")
    egress_port: int | None = Field(default=None, description="Egress service port on the host; default policy network.egress_port")
    egress_url: str = Field(default="", description="Egress URL for notebooks; empty means the project network's gateway")
    admin_users: str = Field(default="", description="Comma-separated hub operators (list and stop servers) besides Keycloak admins; nobody is a full hub admin")
    lifecycle: bool = Field(default=True, description="Run the lifecycle service (off only for the benchmark's plain baseline)")
    lifecycle_interval: int | None = Field(default=None, description="Seconds between lifecycle passes; default policy")
    idle_timeout: int | None = Field(default=None, description="Idle culling timeout; default policy")
    admin_token: str = Field(default="", description="API token of the 'sandkasse-admin' service (demo, tests, benchmarks); empty: no such service")
    node_agent_url: str = Field(default="", description="unix:///path/to/agent.sock of the node agent (hub/node_agent/); empty: the hub isolates sandboxes itself, as root")
    node_agent_token_file: str = Field(default="", description="File holding the token shared with the node agent")
    log_level: str = "INFO"
