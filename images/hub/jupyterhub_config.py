"""JupyterHub configuration for the compose stack: the sandkasse hub's own configuration
(``hub/jupyterhub_config.py`` from the installed package; every value there comes from the
``SANDKASSE_HUB_*`` environment the compose file sets) with what differs when the hub runs as a
service of the stack: its database on PostgreSQL, its cookie secret from ``.env``, and the public
proxy on loopback only, because the TLS proxy in front of it is the way in."""

import os
from pathlib import Path

import hub

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)
load_subconfig(str(Path(hub.__file__).resolve().parent / "jupyterhub_config.py"))  # noqa: F821

c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('SANDKASSE_HUB_PORT', '8000')}"
c.JupyterHub.db_url = os.environ["JUPYTERHUB_DB_URL"]
c.JupyterHub.upgrade_db = True  # a new JupyterHub version migrates its own tables on start
c.JupyterHub.cookie_secret = bytes.fromhex(os.environ["JPY_COOKIE_SECRET"])
c.JupyterHub.cookie_secret_file = ""

# Names of everything the spawner creates carry the compose project, so two deployments on one
# engine (a demo and a test run, or staging and production) never share a project network, a
# workspace volume or a container name. The bridge name hashes the network name (not only the
# project slug) for the same reason; it keeps the policy's prefix, which the host firewall matches.
from hub.spawner import ProjectDockerSpawner, _short_hash  # noqa: E402

deployment = os.environ.get("SANDKASSE_DEPLOYMENT", "sandkasse")


class ComposeProjectDockerSpawner(ProjectDockerSpawner):
    def bridge_name(self, slug: str) -> str:
        prefix = self.policy.network.bridge_prefix
        return f"{prefix}{_short_hash(self.network_name_prefix + slug, 15 - len(prefix))}"


c.JupyterHub.spawner_class = ComposeProjectDockerSpawner
c.ProjectDockerSpawner.network_name_prefix = f"{deployment}-net-"
c.ProjectDockerSpawner.volume_name_prefix = f"{deployment}-"
c.ProjectDockerSpawner.name_template = f"{deployment}-{{username}}--{{servername}}"


# Behind the TLS proxy, tokens carry the public issuer: the authenticator's default `issuer` is the
# realm at SANDKASSE_HUB_KEYCLOAK_PUBLIC_URL, which is where browsers log in.
