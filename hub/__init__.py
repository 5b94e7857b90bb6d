"""The notebook hub: JupyterHub configuration (``jupyterhub_config.py``), the Keycloak login
(``authenticator``), one hardened container per (researcher, project) (``spawner``, ``firewall``),
enforcement of project status and membership (``lifecycle``), the browser lockdown installed in the
notebook image (``lockdown``), the server side of JupyterLab's "Request release" (``request_release``), and the notebook image itself (``images``). Start it with ``hub.run``.

This package imports nothing at the top level: the notebook image imports ``hub.lockdown`` without
JupyterHub's server-side dependencies."""
