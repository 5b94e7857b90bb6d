# JupyterHub configuration of Sandkasse: Keycloak login, one hardened container per (researcher,
# project), lifecycle enforcement and idle culling. Start it with `python -m hub.run` (or
# `jupyterhub -f hub/jupyterhub_config.py`); every value comes from the environment (hub/settings.py)
# and policies/security.yaml.
import os
import sys

from hub.authenticator import hub_operator_role
from hub.policy import security_policy
from hub.proxy import ensure_configurable_http_proxy
from hub.settings import HubSettings
from hub.swarm.config import SPAWNER_NAMES as SWARM_SPAWNERS
from hub.swarm.config import configure as configure_swarm

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
settings = HubSettings()
policy = security_policy()
settings.state_dir.mkdir(parents=True, exist_ok=True)
api_port = settings.api_port or policy.network.hub_api_port

# --- where the hub listens -------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://0.0.0.0:{settings.port}"
# The hub API listens on every address so sandboxes reach it at their network's gateway; the
# SANDKASSE-SANDBOX firewall chain admits this port and the egress port only (hub/firewall.py).
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_port = api_port
c.JupyterHub.hub_connect_ip = "127.0.0.1"  # the spawner gives each sandbox its own gateway URL
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(ensure_configurable_http_proxy())]
if settings.spawner != "docker":  # the plain DockerSpawner benchmark baseline runs without the meter
    # Every user server is reached through the meter (CSP, daily read budget, audited volume): hub/meter/.
    c.JupyterHub.proxy_class = "hub.meter.proxy.MeteredProxy"
c.JupyterHub.db_url = f"sqlite:///{settings.state_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(settings.state_dir / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(settings.state_dir / "jupyterhub.pid")
c.JupyterHub.log_level = settings.log_level
c.JupyterHub.cleanup_servers = True

# --- login -------------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = settings.authenticator
c.KeycloakAuthenticator.client_id = settings.client_id
c.KeycloakAuthenticator.client_secret = settings.client_secret
c.KeycloakAuthenticator.oauth_callback_url = settings.public_url.rstrip("/") + "/hub/oauth_callback"
if settings.keycloak_public_url:
    c.KeycloakAuthenticator.keycloak_public_url = settings.keycloak_public_url
# auth_state is encrypted with JUPYTERHUB_CRYPT_KEY from the environment (hub.run sets one up).
c.Authenticator.enable_auth_state = True
# Nobody is a hub admin (every notebook, every user's Keycloak tokens): Keycloak admins and the names in
# SANDKASSE_HUB_ADMIN_USERS get the operator role (list, stop), see hub/authenticator.py.
c.Authenticator.admin_users = set()
operators = [u.strip() for u in settings.admin_users.split(",") if u.strip()]

# --- one server per project --------------------------------------------------------------------
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 0  # bounded by the projects the user is in
c.JupyterHub.spawner_class = settings.spawner
c.DockerSpawner.image = settings.notebook_image
if settings.spawner == "docker":
    # Plain DockerSpawner, the benchmark's baseline: an ordinary bridge network, hub at its gateway.
    import ipaddress

    import docker

    ipam = docker.from_env().networks.get(settings.plain_network).attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    c.DockerSpawner.hub_connect_url = f"http://{gateway}:{api_port}"
    c.DockerSpawner.network_name = settings.plain_network
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.remove = True
    c.DockerSpawner.pull_policy = "never"
if settings.egress_port:
    c.ProjectDockerSpawner.egress_port = settings.egress_port
c.ProjectDockerSpawner.egress_url = settings.egress_url
c.ProjectDockerSpawner.node_agent_url = settings.node_agent_url  # privileged steps by the node agent (hub/node_agent/)
c.ProjectDockerSpawner.node_agent_token_file = settings.node_agent_token_file
if settings.spawner in ("project-kube", "hub.kube.spawner.ProjectKubeSpawner"):
    from hub.kube.config import configure

    configure(c, settings.notebook_image)  # pods, a NetworkPolicy per project: hub/kube/, deploy/kubernetes/
if settings.spawner in SWARM_SPAWNERS:
    configure_swarm(c, settings.notebook_image)  # services on internal overlays: hub/swarm/, docs/deploy.md
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
c.Spawner.default_url = "/lab/tree/Welcome.ipynb"
c.Spawner.disable_user_config = True
if settings.spawner != "docker":
    # The home and spawn pages list the researcher's projects (hub/project_pages.py, hub/templates).
    from hub import project_pages

    c.JupyterHub.template_paths = [str(project_pages.TEMPLATES)]
    c.JupyterHub.template_vars = project_pages.template_vars()
    c.JupyterHub.default_url = project_pages.default_url

# --- lifecycle ---------------------------------------------------------------------------------
interval = settings.lifecycle_interval or policy.lifecycle.enforce_interval_seconds
idle = settings.idle_timeout or policy.lifecycle.idle_timeout_seconds
# Managed services do not inherit the hub's environment; the lifecycle service needs the database
# and hub settings.
sandkasse_env = {k: v for k, v in os.environ.items() if k.startswith("SANDKASSE_")}
lifecycle_service = {
    "name": "sandkasse-lifecycle",
    "command": [sys.executable, "-m", "hub.lifecycle", f"--interval={interval}"],
    "environment": sandkasse_env,
}
c.JupyterHub.services = [
    *([lifecycle_service] if settings.lifecycle else []),
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle}", f"--cull-every={min(idle, 300)}", "--remove-named-servers=True"],
    },
]
lifecycle_role = {
    "name": "sandkasse-lifecycle",
    "scopes": ["list:users", "read:users:name", "read:servers", "delete:servers", "admin:servers"],
    "services": ["sandkasse-lifecycle"],
}
c.JupyterHub.load_roles = [
    {"name": "admin", "users": [], "services": []},  # a static, empty list: also strips admins kept in the database
    hub_operator_role(operators),
    *([lifecycle_role] if settings.lifecycle else []),
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]

if settings.admin_token:
    c.JupyterHub.services.append({"name": "sandkasse-admin", "api_token": settings.admin_token})
    c.JupyterHub.load_roles.append(
        {
            "name": "sandkasse-admin",
            "scopes": ["admin:users", "admin:servers", "list:users", "read:users", "access:servers", "tokens"],
            "services": ["sandkasse-admin"],
        }
    )
