"""The production stack from ``docker-compose.yml``, brought up once for this folder's tests with
Debian's ``docker-compose`` on the real Docker engine: its own compose project name, free high ports
on 127.0.0.1, its own data folder, and removed (``down -v``) afterwards."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandkasse.init_env import ensure_env
from sandkasse.stack.compose import ComposeStack, build_stack_images
from sandkasse.stack.process import free_port, var_path
from tests.testbed.timing import timed

PORT_SETTINGS = (
    "SANDKASSE_HTTPS_PORT",
    "SANDKASSE_EGRESS_HTTPS_PORT",
    "SANDKASSE_PORTAL_HTTPS_PORT",
    "SANDKASSE_PORTAL_PORT",
    "SANDKASSE_HUB_PORT",
    "SANDKASSE_HUB_PROXY_API_PORT",
    "SANDKASSE_HUB_API_PORT",
    "SANDKASSE_EGRESS_PORT",
    "SANDKASSE_KEYCLOAK_PORT",
    "SANDKASSE_POSTGRES_PORT",
)


def _free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    for _ in range(100):
        ports.add(free_port())
        if len(ports) == n:
            return sorted(ports)
    raise RuntimeError("could not find free ports")


def _remove_spawned(client: docker.DockerClient, deployment: str) -> None:
    """What the hub created for this deployment outside compose: notebook containers, project
    networks, workspace and shared volumes (all named with the deployment as prefix)."""
    for c in client.containers.list(all=True, filters={"name": f"{deployment}-"}):
        c.remove(force=True)
    for n in client.networks.list(names=[f"{deployment}-net-"]):
        if n.name.startswith(f"{deployment}-net-"):
            n.remove()
    for v in client.volumes.list():
        if v.name.startswith(f"{deployment}-"):
            v.remove(force=True)


def _close_firewall_ports(stack: ComposeStack) -> None:
    """The hub added this run's hub API and egress ports to the host's sandbox chain; take them out."""
    from hub.firewall import SandboxFirewall
    from hub.policy import security_policy

    net = security_policy().network
    ports = {int(stack.settings[k]) for k in ("SANDKASSE_HUB_API_PORT", "SANDKASSE_EGRESS_PORT")}
    SandboxFirewall(net.chain, net.bridge_prefix).remove_ports(ports)


@pytest.fixture(scope="package")
def compose_stack(docker_client: docker.DockerClient) -> Iterator[ComposeStack]:
    project = f"skcompose{secrets.token_hex(3)}"
    root = var_path("tmp") / project
    root.mkdir(parents=True)
    env_file = root / ".env"
    overrides = dict(zip(PORT_SETTINGS, map(str, _free_ports(len(PORT_SETTINGS))), strict=True))
    overrides |= {
        "SANDKASSE_PUBLIC_HOST": "127.0.0.1",
        "SANDKASSE_BIND_ADDRESS": "127.0.0.1",
        "SANDKASSE_DATA_DIR": str(root / "data"),
        "SANDKASSE_DEMO": "1",
        "SANDKASSE_DEMO_EMPLOYEES": "3000",  # a smaller synthetic register: the path matters here, not the volume
        "SANDKASSE_HUB_ADMIN_TOKEN": secrets.token_hex(32),
        # The JIT's C1 tier only: Keycloak starts in about half the CPU time on a busy 2-core machine.
        "SANDKASSE_KEYCLOAK_JAVA_OPTS": "-XX:TieredStopAtLevel=1",
    }
    ensure_env(env_file, overrides)
    stack = ComposeStack(project=project, env_file=env_file)
    try:
        with timed("compose images"):
            stack.images = build_stack_images()
        with timed("compose up"):
            stack.up(build=False)
        yield stack
    finally:
        # Keep the services' logs for a failed run's post-mortem (var/log/compose-<project>.log).
        (var_path("log") / f"compose-{project}-services.log").write_text(stack.logs_tail(5000))
        try:
            stack.down(volumes=True)
        finally:
            _remove_spawned(docker_client, project)
            _close_firewall_ports(stack)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def tls_ca(compose_stack: ComposeStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The proxy's self-signed certificate, read from its volume, to verify TLS against."""
    container = docker.from_env().containers.get(compose_stack.containers()["proxy"]["Id"])
    out = container.exec_run(["cat", "/etc/sandkasse/tls/tls.crt"])
    assert out.exit_code == 0, out.output
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    path.write_bytes(out.output)
    return path
