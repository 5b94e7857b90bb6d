"""The stack's one-shot init step, run inside the compose stack (the ``init`` service, egress image):

* ``migrate``: provisioning's and the egress service's Alembic migrations, up to head (also run by
  the egress service itself on every start, so an upgraded image migrates before it serves);
* ``keycloak``: the OAuth client secrets of ``sandkasse-hub``, ``sandkasse-egress`` and ``sandkasse-portal`` and their
  redirect URIs set in Keycloak from the environment (the realm file in the repository carries no
  secrets; Keycloak imports it once, and this step runs on every start, so a secret rotated in
  ``.env`` reaches Keycloak with the next ``up``);
* ``demo``: the demo users and projects, when ``SANDKASSE_DEMO=1``;
* ``all``: the three in that order.

``python -m sandkasse.stack.compose_init all``; exit code 0 on success.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

REALM = "sandkasse"
HUB_CLIENT = "sandkasse-hub"
EGRESS_CLIENT = "sandkasse-egress"
PORTAL_CLIENT = "sandkasse-portal"
KEYCLOAK_RETRIES = 30


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise SystemExit(f"compose init: {name} is not set (run `sandkasse init` and pass .env)")
    return value


def migrate() -> None:
    from egress_review.db import migrate as migrate_egress
    from provisioning.db import migrate as migrate_provisioning

    url = _env("SANDKASSE_DATABASE_URL")
    migrate_provisioning(url)
    migrate_egress(url)
    print("compose init: database migrated (provisioning, egress)", flush=True)


def egress_public_url(public_url: str) -> str:
    """The egress review UI's own origin: the hub's host on ``SANDKASSE_EGRESS_HTTPS_PORT`` (default
    8444), so script in a notebook page (hub origin) can never act in a checker's egress session."""
    parts = urlsplit(public_url.rstrip("/"))
    return f"{parts.scheme}://{parts.hostname}:{os.environ.get('SANDKASSE_EGRESS_HTTPS_PORT') or '8444'}"


def portal_public_url(public_url: str) -> str:
    """The application portal's own origin: the hub's host on ``SANDKASSE_PORTAL_HTTPS_PORT`` (default 8445)."""
    parts = urlsplit(public_url.rstrip("/"))
    return f"{parts.scheme}://{parts.hostname}:{os.environ.get('SANDKASSE_PORTAL_HTTPS_PORT') or '8445'}"


def client_settings(public_url: str) -> dict[str, dict[str, object]]:
    """What each OAuth client must look like in Keycloak for the stack at ``public_url``."""
    base = public_url.rstrip("/")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    egress = egress_public_url(base)
    portal = portal_public_url(base)
    return {
        HUB_CLIENT: {
            "secret": _env("SANDKASSE_HUB_CLIENT_SECRET"),
            "redirectUris": [f"{base}/hub/oauth_callback"],
            "webOrigins": [origin],
            "rootUrl": base,
            "baseUrl": "/hub/",
            "attributes": {"post.logout.redirect.uris": f"{base}/*"},
        },
        EGRESS_CLIENT: {
            "secret": _env("SANDKASSE_EGRESS_CLIENT_SECRET"),
            "redirectUris": [f"{egress}/*"],
            "webOrigins": [egress],
            "rootUrl": egress,
            "baseUrl": "/",
            "attributes": {"post.logout.redirect.uris": f"{egress}/*"},
        },
        PORTAL_CLIENT: {
            "secret": _env("SANDKASSE_PORTAL_CLIENT_SECRET"),
            "redirectUris": [f"{portal}/auth/callback"],
            "webOrigins": [portal],
            "rootUrl": portal,
            "baseUrl": "/",
            "attributes": {"post.logout.redirect.uris": f"{portal}/*"},
        },
    }


def _retry(what: str, action: Callable[[], object], attempts: int = KEYCLOAK_RETRIES, pause: float = 2.0) -> object:
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:  # Keycloak still starting, realm import still running
            if attempt == attempts:
                raise SystemExit(f"compose init: {what} failed after {attempts} attempts: {exc}") from exc
            time.sleep(pause)
    raise AssertionError("unreachable")


def configure_keycloak() -> None:
    public_url = _env("SANDKASSE_PUBLIC_URL")
    admin = _keycloak_admin()
    for client_id, wanted in client_settings(public_url).items():
        internal = admin.get_client_id(client_id)
        if internal is None:
            raise SystemExit(f"compose init: client {client_id} is missing from realm {REALM} (realm file?)")
        current = admin.get_client(internal)
        attributes = {**(current.get("attributes") or {}), **wanted["attributes"]}  # type: ignore[dict-item]
        admin.update_client(internal, {**current, **wanted, "attributes": attributes, "publicClient": False})
        if admin.get_client_secrets(internal).get("value") != wanted["secret"]:
            raise SystemExit(f"compose init: Keycloak did not keep the secret of {client_id}")
    print(f"compose init: Keycloak clients {HUB_CLIENT}, {EGRESS_CLIENT}, {PORTAL_CLIENT} configured for {public_url}", flush=True)


def _keycloak_admin():  # noqa: ANN202 - keycloak.KeycloakAdmin, imported lazily
    from keycloak import KeycloakAdmin

    server = _env("SANDKASSE_KEYCLOAK_URL").rstrip("/") + "/"

    def connect() -> KeycloakAdmin:
        admin = KeycloakAdmin(
            server_url=server,
            username="admin",
            password=_env("KEYCLOAK_ADMIN_PASSWORD"),
            realm_name=REALM,
            user_realm_name="master",
        )
        admin.get_realm(REALM)  # the realm import has finished
        return admin

    return _retry("logging in to Keycloak's admin API", connect)


def seed_demo() -> None:
    """The demo users and projects (once: a second ``up`` finds them and only resets the passwords).

    Every demo user gets ``SANDKASSE_DEMO_PASSWORD`` from ``.env``, so the printed password stays
    valid across restarts instead of changing on every start."""
    if os.environ.get("SANDKASSE_DEMO", "0") != "1":
        print("compose init: SANDKASSE_DEMO is not 1; no demo data", flush=True)
        return
    from provisioning.db import session_factory
    from provisioning.demo import DEMO_PEOPLE, DEMO_PROJECTS, seed_demo as seed
    from provisioning.projects import find_project
    from sandkasse.db import session_scope
    from sandkasse.keys import load_master_key
    from sandkasse.settings import get_settings

    password = _env("SANDKASSE_DEMO_PASSWORD")
    admin = _keycloak_admin()
    factory = session_factory(_env("SANDKASSE_DATABASE_URL"))
    with session_scope(factory) as s:
        seeded = all(find_project(s, slug) is not None for slug in DEMO_PROJECTS)
    if seeded:
        print("compose init: demo projects exist; not seeding again", flush=True)
    else:
        employees = int(os.environ.get("SANDKASSE_DEMO_EMPLOYEES") or 15000)
        info = seed(factory, get_settings().var_dir, keycloak=admin, master_key=load_master_key(), employees=employees)
        print(f"compose init: demo seeded: projects {sorted(info.projects)}, users {sorted(info.users)}", flush=True)
    for username in DEMO_PEOPLE:
        user_id = admin.get_user_id(username)
        if user_id is None:
            raise SystemExit(f"compose init: demo user {username} is missing from Keycloak")
        admin.set_user_password(user_id, password, temporary=False)
    print(f"compose init: demo users {', '.join(DEMO_PEOPLE)} have the password SANDKASSE_DEMO_PASSWORD from .env", flush=True)


STEPS: dict[str, Callable[[], None]] = {"migrate": migrate, "keycloak": configure_keycloak, "demo": seed_demo}


def main(argv: list[str]) -> int:
    names = argv or ["all"]
    order = list(STEPS) if names == ["all"] else names
    unknown = [n for n in order if n not in STEPS]
    if unknown:
        print(f"usage: python -m sandkasse.stack.compose_init [all|{'|'.join(STEPS)} ...]; unknown: {unknown}", file=sys.stderr)
        return 2
    for name in order:
        STEPS[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
