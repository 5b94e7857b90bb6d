"""Hub configuration for Kubernetes (``SANDKASSE_HUB_SPAWNER=project-kube``), from the environment the
hub's Deployment sets (deploy/kubernetes/hub.yaml)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KubeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDKASSE_KUBE_", env_file=None, extra="ignore")

    namespace: str = Field(default="sandkasse", description="Namespace of the hub, the egress service and every notebook pod")
    pod_network: str = Field(default="", description="The cluster's pod range (CIDR); project tokens are accepted only from inside it")
    hub_connect_url: str = Field(description="The hub API as notebooks reach it, by address: http://<hub-api Service clusterIP>:8081")
    egress_url: str = Field(description="The egress service as notebooks reach it, by address: http://<egress Service clusterIP>:8090")
    workspace_size: str = Field(default="10Gi", description="Size of each (user, project) workspace claim")
    storage_class: str = Field(default="", description="Storage class of the workspace claims; empty: the cluster's default")


def configure(c, notebook_image: str) -> None:
    """Point ``c.ProjectKubeSpawner`` at this deployment."""
    s = KubeSettings()
    c.JupyterHub.spawner_class = "hub.kube.spawner.ProjectKubeSpawner"
    c.ProjectKubeSpawner.namespace = s.namespace
    c.ProjectKubeSpawner.image = notebook_image
    c.ProjectKubeSpawner.pod_network = s.pod_network
    c.ProjectKubeSpawner.hub_connect_url = s.hub_connect_url
    c.ProjectKubeSpawner.egress_url = s.egress_url
    c.ProjectKubeSpawner.storage_capacity = s.workspace_size
    if s.storage_class:
        c.ProjectKubeSpawner.storage_class = s.storage_class
