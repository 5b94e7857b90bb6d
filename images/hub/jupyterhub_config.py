"""JupyterHub configuration for the compose stack: the sandkasse hub's own configuration
(``hub/jupyterhub_config.py`` from the installed package) with what differs when the hub runs as a
container among the stack's services: its database on PostgreSQL, its public URL behind the TLS
proxy, Keycloak reached by the browser through the proxy but by the hub on the internal network,
and Docker reached through the ``docker-api`` filter (DOCKER_HOST)."""

import os
from pathlib import Path

import hub

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)
load_subconfig(str(Path(hub.__file__).resolve().parent / "jupyterhub_config.py"))  # noqa: F821

public = os.environ["SANDKASSE_PUBLIC_URL"].rstrip("/")
keycloak_internal = os.environ["SANDKASSE_KEYCLOAK_URL"].rstrip("/")
realm = os.environ.get("SANDKASSE_KEYCLOAK_REALM", "sandkasse")
oidc_public = f"{public}/auth/realms/{realm}/protocol/openid-connect"
oidc_internal = f"{keycloak_internal}/realms/{realm}/protocol/openid-connect"

c.JupyterHub.bind_url = "http://0.0.0.0:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.db_url = os.environ["JUPYTERHUB_DB_URL"]
c.JupyterHub.cookie_secret = bytes.fromhex(os.environ["JUPYTERHUB_COOKIE_SECRET"])
c.JupyterHub.data_files_path = str(Path(__import__("jupyterhub").__file__).parent.parent / "share" / "jupyterhub")
c.JupyterHub.pid_file = "/srv/jupyterhub/data/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/data/jupyterhub-proxy.pid"

# The browser goes through the proxy; the hub's own calls stay on the internal network.
c.GenericOAuthenticator.client_id = "sandkasse-hub"
c.GenericOAuthenticator.client_secret = os.environ["SANDKASSE_HUB_CLIENT_SECRET"]
c.GenericOAuthenticator.oauth_callback_url = f"{public}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = f"{oidc_public}/auth"
c.GenericOAuthenticator.token_url = f"{oidc_internal}/token"
c.GenericOAuthenticator.userdata_url = f"{oidc_internal}/userinfo"
c.GenericOAuthenticator.logout_redirect_url = f"{oidc_public}/logout?client_id=sandkasse-hub&post_logout_redirect_uri={public}/"
