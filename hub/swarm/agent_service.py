"""The node agent (``hub/node_agent/``) as a global Docker Swarm service: one task on every node,
installing and re-checking that node's sandbox firewall, healthy only while the firewall is complete.

On a swarm a notebook sits on an internal overlay with no gateway, so no route needs removing and the
hub never calls the agent; the agent keeps the host's side (the ``DOCKER-USER`` drop for sandbox
bridges and the ports chain) in place on every node, and the swarm itself reports where it is not:
a task with a health check is ``running`` only once healthy, so a node without a running agent task is
a node without a complete firewall (``nodes_without_agent``, used by ``sandkasse doctor``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import docker
from docker.types import ContainerSpec, Healthcheck, Mount, NetworkAttachmentConfig, RestartPolicy, SecretReference, ServiceMode, TaskTemplate

SOCKET_DIR = "/run/sandkasse-agent"
SECONDS = 1_000_000_000


def agent_service(
    image: str,
    *,
    token_secret_id: str,
    token_secret_name: str,
    python: Sequence[str] = ("python3",),
    env: Mapping[str, str] | None = None,
    extra_mounts: Sequence[Mount] = (),
    socket_dir: str = SOCKET_DIR,
    recheck_seconds: int = 10,
    capabilities: Sequence[str] = ("NET_ADMIN", "NET_RAW"),
) -> dict:
    """``create_service`` arguments: global, in the node's network namespace (its iptables), root with
    only the network capabilities, read-only root, the node's engine socket (the agent checks notebooks
    with it), the shared token as a swarm secret."""
    token = f"/run/secrets/{token_secret_name}"
    socket = f"{socket_dir}/agent.sock"
    container = ContainerSpec(
        image=image,
        command=[*python, "-m", "hub.node_agent", "--socket", socket, "--token-file", token, "--recheck", str(recheck_seconds)],
        env=dict(env or {}),
        user="0",
        mounts=[Mount("/var/run/docker.sock", "/var/run/docker.sock", type="bind"),
                Mount(socket_dir, socket_dir, type="bind"), *extra_mounts],  # fmt: skip
        read_only=True,
        cap_drop=["ALL"],
        cap_add=list(capabilities),
        secrets=[SecretReference(token_secret_id, token_secret_name, mode=0o400)],
        healthcheck=Healthcheck(
            test=["CMD", *python, "-m", "hub.node_agent.healthcheck", "--socket", socket, "--token-file", token],
            interval=5 * SECONDS, timeout=10 * SECONDS, retries=3, start_period=20 * SECONDS,
        ),
    )
    template = TaskTemplate(
        container_spec=container,
        restart_policy=RestartPolicy(condition="any", delay=5 * SECONDS),
        networks=[NetworkAttachmentConfig("host")],
    )
    return {"task_template": template, "mode": ServiceMode("global"), "labels": {"org.sandkasse.role": "node-agent"}}


def nodes_without_agent(client: docker.APIClient, service: str) -> list[str]:
    """Host names of the swarm's ready nodes that have no running (so: healthy) task of ``service``."""
    ready = {n["ID"]: n["Description"]["Hostname"] for n in client.nodes() if n["Status"]["State"] == "ready"}
    running = {t["NodeID"] for t in client.tasks(filters={"service": service}) if t["Status"]["State"] == "running"}
    return sorted(name for node_id, name in ready.items() if node_id not in running)
