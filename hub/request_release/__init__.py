"""Jupyter server extension behind JupyterLab's "Request release" (the front end is
``images/notebook/labextension``): the browser talks to these handlers only, and they talk to the
egress service with the project token from this server's environment, so the token never reaches
the browser. Enabled in the notebook image's root-owned configuration
(``jupyter_server_config.d/sandkasse-request-release.json``)."""

from __future__ import annotations


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "hub.request_release"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from hub.request_release.handlers import setup_handlers

    setup_handlers(serverapp)
