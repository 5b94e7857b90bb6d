"""The Content-Security-Policy the meter puts on every response from a notebook server.

JupyterLab's own needs only: its code, styles, fonts and data come from the page's own origin, plus
the websockets to the same host. Inline script and ``eval`` stay allowed because JupyterLab needs
them (page configuration, JSON-schema validators); what any script can *send* is bounded by the
fetch directives, which name no third-party origin, so a notebook output can neither load an outside
image nor call an outside server."""

from __future__ import annotations

import re

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def content_security_policy(host: str) -> str:
    connect = "'self'"
    if _HOST.match(host or ""):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' data: blob:",
            f"connect-src {connect}",
            "worker-src 'self' blob:",
            "frame-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


# Headers of the notebook server that must not reach the browser: the server is in the
# researcher's reach, so it must not loosen the policy, open CORS, redirect by header or register
# reporting endpoints. (Its cookies stay: JupyterHub scopes them to the server's own path.)
DROPPED_RESPONSE_HEADERS = frozenset(
    h.lower()
    for h in (
        "Content-Security-Policy",
        "Content-Security-Policy-Report-Only",
        "Access-Control-Allow-Origin",
        "Access-Control-Allow-Credentials",
        "Access-Control-Allow-Headers",
        "Access-Control-Allow-Methods",
        "Access-Control-Expose-Headers",
        "Link",
        "Refresh",
        "Report-To",
        "NEL",
        "Reporting-Endpoints",
        "Clear-Site-Data",
        "Service-Worker-Allowed",
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "Content-Length",
        "Upgrade",
        "Proxy-Authenticate",
        "Trailer",
        "Server",
        "Date",
    )
)
