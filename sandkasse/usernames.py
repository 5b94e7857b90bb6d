"""One spelling per person: user names compare case-insensitively everywhere.

Keycloak stores user names in lower case whatever was typed, JupyterHub lower-cases them at login;
provisioning, the Keycloak sync and the egress service normalise at their boundaries with this one
function, so ``Ingrid`` and ``ingrid`` are the same member, the same requester and the same checker.
"""

from __future__ import annotations


def normalise_username(username: str) -> str:
    # Keycloak's own rule (lower case, surrounding blanks dropped); user names are ASCII
    # (provisioning's USERNAME pattern), so lower() and casefold() agree.
    return (username or "").strip().lower()
