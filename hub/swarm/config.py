"""Hub configuration for a Docker Swarm (``SANDKASSE_HUB_SPAWNER=project-swarm``), from the environment
of the hub's container on a manager node (docs/deploy.md, "Docker Swarm")."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SPAWNER_NAMES = ("project-swarm", "hub.swarm.spawner.ProjectSwarmSpawner")


class SwarmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_SWARM_", env_file=None, extra="ignore")

    hub_name: str = Field(default="sandkasse-hub", description="The hub's container name: notebooks reach the hub API by it on their overlay")
    egress_name: str = Field(default="sandkasse-egress", description="The egress service's container name on every project overlay")
    egress_port: int = Field(default=8090, description="Egress port inside its container")
    encrypt_overlay: bool = Field(default=True, description="IPsec between nodes on project overlays (needs ESP in every node's kernel)")
    agent_service: str = Field(default="", description="The node agent's global service (hub/swarm/agent_service.py), checked by sandkasse doctor")
    constraints: str = Field(
        default="node.role == worker;node.labels.org.sandkasse.notebooks == true",
        description="Placement constraints of notebook tasks, separated by ';'",
    )


def configure(c, notebook_image: str) -> None:
    """Point ``c.ProjectSwarmSpawner`` at this deployment: the hub and egress containers join every
    project overlay and are reached there by name."""
    s = SwarmSettings()
    c.JupyterHub.spawner_class = "hub.swarm.spawner.ProjectSwarmSpawner"
    c.ProjectSwarmSpawner.image = notebook_image
    c.ProjectSwarmSpawner.hub_service = s.hub_name
    c.ProjectSwarmSpawner.egress_service = s.egress_name
    c.ProjectSwarmSpawner.egress_port_on_overlay = str(s.egress_port)
    c.ProjectSwarmSpawner.attach_containers = [s.hub_name, s.egress_name]
    c.ProjectSwarmSpawner.encrypt_overlay = s.encrypt_overlay
    c.ProjectSwarmSpawner.placement_constraints = [x.strip() for x in s.constraints.split(";") if x.strip()]
