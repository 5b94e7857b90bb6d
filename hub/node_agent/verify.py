"""What the agent checks with the engine itself before it touches a container or a volume.

The request names a container; everything else (its process, labels, networks, privileges) comes
from the engine. A container that is not a sandbox notebook is refused, so a hub that is wrong or
compromised cannot make the agent enter another service's namespaces (the proxy, the database) or
report "isolated" for a container that is not on a sandbox network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import docker
import docker.errors

from hub.sandbox import NOTEBOOK_ROLE

PROJECT_NETWORK_ROLE = "project-network"
WORKSPACE_ROLE = "workspace"
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class Refused(Exception):
    """The agent will not act on this object; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Notebook:
    id: str
    pid: int
    started_at: str
    project: str
    networks: tuple[str, ...]


def _inspect_container(api: docker.APIClient, ref: str) -> dict:
    if not _REF.fullmatch(ref):
        raise Refused(400, "not a container name or id")
    try:
        return api.inspect_container(ref)
    except docker.errors.NotFound:
        raise Refused(404, f"no container {ref}") from None


def sandbox_notebook(api: docker.APIClient, ref: str, bridge_prefix: str) -> Notebook:
    """The notebook container ``ref`` as the engine describes it, or :class:`Refused`."""
    info = _inspect_container(api, ref)
    labels = (info.get("Config") or {}).get("Labels") or {}
    if labels.get("org.sandkasse.role") != NOTEBOOK_ROLE:
        raise Refused(403, "not a sandbox notebook (label org.sandkasse.role)")
    project = labels.get("org.sandkasse.project") or ""
    if not project:
        raise Refused(403, "notebook without a project label")
    host = info.get("HostConfig") or {}
    mode = str(host.get("NetworkMode") or "")
    if host.get("Privileged") or mode == "host" or mode.startswith("container:") or host.get("PidMode") == "host":
        raise Refused(403, "container shares host or container namespaces, or is privileged: not a sandbox")
    state = info.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        raise Refused(409, "container is not running")
    attached = (info.get("NetworkSettings") or {}).get("Networks") or {}
    if not attached:
        raise Refused(403, "container is on no network")
    for name, endpoint in attached.items():
        try:
            net = api.inspect_network(endpoint.get("NetworkID") or name)
        except docker.errors.NotFound:
            raise Refused(403, f"network {name} is gone") from None
        nlabels = net.get("Labels") or {}
        bridge = (net.get("Options") or {}).get("com.docker.network.bridge.name", "")
        if not (
            net.get("Internal")
            and nlabels.get("org.sandkasse.role") == PROJECT_NETWORK_ROLE
            and nlabels.get("org.sandkasse.project") == project
            and bridge.startswith(bridge_prefix)
        ):
            raise Refused(403, f"network {name} is not the internal sandbox network of project {project}")
    return Notebook(info["Id"], pid, str(state.get("StartedAt", "")), project, tuple(sorted(attached)))


def same_process(api: docker.APIClient, nb: Notebook) -> bool:
    """Still the process that was checked (not restarted, its pid not reused) after acting on it."""
    try:
        state = api.inspect_container(nb.id).get("State") or {}
    except docker.errors.NotFound:
        return False
    return bool(state.get("Running")) and int(state.get("Pid") or 0) == nb.pid and str(state.get("StartedAt", "")) == nb.started_at


def workspace_volume(api: docker.APIClient, name: str) -> dict[str, str]:
    """The labels of workspace volume ``name``, or :class:`Refused` when it is not one."""
    if not _REF.fullmatch(name):
        raise Refused(400, "not a volume name")
    try:
        info = api.inspect_volume(name)
    except docker.errors.NotFound:
        raise Refused(404, f"no volume {name}") from None
    labels = info.get("Labels") or {}
    if labels.get("org.sandkasse.role") != WORKSPACE_ROLE or not labels.get("org.sandkasse.project"):
        raise Refused(403, "not a sandbox workspace volume (label org.sandkasse.role)")
    return labels
