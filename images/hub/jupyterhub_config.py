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
