"""Fixtures of the hub's end-to-end tests (helpers in hubtest.py): the notebook image, a provisioning
database with test projects, and real hubs on this host spawning real containers. Everything the
tests create is removed at the end of the session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.firewall import SandboxFirewall
from hub.images import ensure_notebook_image
from hub.run import start_hub
from hubtest import Hub, Provisioner, _remove_test_objects, free_port, start_egress


@pytest.fixture(scope="session")
def notebook_image(docker_client) -> str:
    """The notebook image on its own base (the local base plus R, images/notebook/packages.txt)."""
    return ensure_notebook_image()


@pytest.fixture(scope="session")
def hub_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hub")


@pytest.fixture(scope="session")
def provisioner(hub_workdir: Path) -> Iterator[Provisioner]:
    prov = Provisioner(f"sqlite:///{hub_workdir / 'sandkasse.db'}")
    yield prov
    prov.cleanup()


@pytest.fixture(scope="session")
def project_token_key() -> str:
    return secrets.token_urlsafe(40)


@pytest.fixture(scope="session")
def egress_service(provisioner, project_token_key, hub_workdir) -> Iterator[int]:
    """The real egress service on the same database as the test projects (``hubtest.start_egress``);
    sandboxes reach it at their network's gateway. Yields the port."""
    with start_egress(provisioner.url, project_token_key, hub_workdir / "egress") as port:
        yield port


@pytest.fixture(scope="session")
def hub_factory(notebook_image, docker_client, provisioner, project_token_key, hub_workdir):
    """Start hubs on free ports (``authenticator`` and extra environment as asked); all are stopped,
    and everything they created removed, at the end of the session."""
    hubs: list[Hub] = []

    def start(
        authenticator: str = "null", egress_port: int | None = None, extra_env: dict[str, str] | None = None, argv_prefix: tuple[str, ...] = ()
    ) -> Hub:
        port, api_port, proxy_api_port = free_port(), free_port(), free_port()
        egress_port = egress_port or free_port()
        env = {
            "SANDKASSE_DATABASE_URL": provisioner.url,
            "SANDKASSE_PROJECT_TOKEN_KEY": project_token_key,
            "SANDKASSE_HUB_STATE_DIR": str(hub_workdir / f"hub-{port}"),
            "SANDKASSE_HUB_PORT": str(port),
            "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SANDKASSE_HUB_API_PORT": str(api_port),
            "SANDKASSE_HUB_PROXY_API_PORT": str(proxy_api_port),
            "SANDKASSE_HUB_AUTHENTICATOR": authenticator,
            "SANDKASSE_HUB_NOTEBOOK_IMAGE": notebook_image,
            "SANDKASSE_HUB_EGRESS_PORT": str(egress_port),
            "SANDKASSE_HUB_LIFECYCLE_INTERVAL": "5",
            **(extra_env or {}),
        }
        hub = Hub(start_hub(env, argv_prefix=argv_prefix), api_port, egress_port, docker_client)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        for user, project in hub.started:
            try:
                hub.stop_server(user, project)
            except Exception:
                pass
        hub.process.stop()
    _remove_test_objects(docker_client, provisioner.slugs)
    fw = SandboxFirewall.from_policy()
    fw.remove_ports({p for h in hubs for p in (h.api_port, h.egress_port)})


@pytest.fixture(scope="session")
def hub(hub_factory, egress_service) -> Hub:
    """A hub with JupyterHub's NullAuthenticator: these tests start servers through the REST API with
    an admin token; the Keycloak login has its own test (test_keycloak_flow.py)."""
    return hub_factory("null", egress_port=egress_service)


@pytest.fixture(scope="module")
def kc_hub(hub_factory, egress_service, keycloak) -> Hub:
    """A hub that logs people in through the real Keycloak (authorization code flow)."""
    return hub_factory(
        "sandkasse-keycloak",
        egress_port=egress_service,
        extra_env={
            "SANDKASSE_KEYCLOAK_URL": keycloak.url,
            "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
            "SANDKASSE_HUB_CLIENT_SECRET": keycloak.client_secret("sandkasse-hub"),
        },
    )
