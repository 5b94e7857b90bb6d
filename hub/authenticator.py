"""``KeycloakAuthenticator``: JupyterHub login against the Sandkasse Keycloak realm.

The authorization code flow of oauthenticator's ``GenericOAuthenticator``, with the realm's endpoints
filled in from ``SANDKASSE_KEYCLOAK_URL`` / ``SANDKASSE_KEYCLOAK_REALM``. Realm roles are read from the
access token (verified against the realm's published keys), groups from the token or userinfo
``groups`` claim. Only users with the ``researcher`` role, admins, and applicants (who may open nothing but
the synthetic twins of their own submitted applications) are let in.

Admins are not hub admins: a hub admin may open every researcher's notebook (``access:servers``) and
read their Keycloak tokens (``admin:auth_state``). A Keycloak admin joins the hub group
:data:`HUB_OPERATORS_GROUP` instead, whose role (:func:`hub_operator_role`) lists users and servers and
stops servers, nothing more.
"""

from __future__ import annotations

import asyncio

import jwt
from oauthenticator.generic import GenericOAuthenticator
from traitlets import Unicode, default

from sandkasse.settings import get_settings
from sandkasse.usernames import normalise_username

# Not a possible project slug (no colon), and dropped from whatever groups Keycloak sends, so only the
# admin realm role puts someone in it.
HUB_OPERATORS_GROUP = "sandkasse:hub-operators"
HUB_OPERATOR_SCOPES = ["admin-ui", "list:users", "read:users", "read:servers", "delete:servers"]


def hub_operator_role(users: list[str] | None = None) -> dict:
    """The JupyterHub role of admins: see who works where, stop servers; never open a server, read a
    user's auth state or mint tokens."""
    return {
        "name": "sandkasse-operator",
        "description": "Sandkasse admins: list users and servers, stop servers",
        "scopes": HUB_OPERATOR_SCOPES,
        "groups": [HUB_OPERATORS_GROUP],
        "users": sorted(users or []),
    }


class KeycloakAuthenticator(GenericOAuthenticator):
    keycloak_url = Unicode(help="Keycloak base URL as the hub reaches it; default SANDKASSE_KEYCLOAK_URL.").tag(config=True)
    keycloak_public_url = Unicode(
        "", help="Keycloak base URL as browsers reach it (authorize endpoint); default keycloak_url."
    ).tag(config=True)
    realm = Unicode(help="Keycloak realm; default SANDKASSE_KEYCLOAK_REALM.").tag(config=True)
    issuer = Unicode(
        help="Expected `iss` of access tokens. Keycloak names the address browsers use (behind a TLS proxy: "
        "the public one), so the default is the realm at keycloak_public_url, else at keycloak_url."
    ).tag(config=True)
    researcher_role = Unicode("researcher", help="Realm role that admits a user to the hub.").tag(config=True)
    applicant_role = Unicode(
        "applicant", help="Realm role that admits a user to the synthetic twins of their own applications only.",
    ).tag(config=True)
    admin_role = Unicode("admin", help="Realm role that admits a user as hub operator (not hub admin).").tag(config=True)
    database_url = Unicode(
        "", help="SQLAlchemy URL of the provisioning database (which account each user name belongs to); "
        "empty means SANDKASSE_DATABASE_URL.",
    ).tag(config=True)

    _jwks: dict[str, jwt.PyJWKClient] = {}

    @default("keycloak_url")
    def _keycloak_url_default(self) -> str:
        return get_settings().keycloak_url.rstrip("/")

    @default("realm")
    def _realm_default(self) -> str:
        return get_settings().keycloak_realm

    @default("issuer")
    def _issuer_default(self) -> str:
        return f"{(self.keycloak_public_url or self.keycloak_url).rstrip('/')}/realms/{self.realm}"

    @property
    def realm_url(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.realm}"

    @default("login_service")
    def _login_service_default(self) -> str:
        return "Keycloak"

    @default("authorize_url")
    def _authorize_url_default(self) -> str:
        public = (self.keycloak_public_url or self.keycloak_url).rstrip("/")
        return f"{public}/realms/{self.realm}/protocol/openid-connect/auth"

    @default("token_url")
    def _token_url_default(self) -> str:
        return f"{self.realm_url}/protocol/openid-connect/token"

    @default("userdata_url")
    def _userdata_url_default(self) -> str:
        return f"{self.realm_url}/protocol/openid-connect/userinfo"

    @default("logout_redirect_url")
    def _logout_redirect_url_default(self) -> str:
        public = (self.keycloak_public_url or self.keycloak_url).rstrip("/")
        return f"{public}/realms/{self.realm}/protocol/openid-connect/logout"

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "profile", "email"]

    @default("username_claim")
    def _username_claim_default(self) -> str:
        return "preferred_username"

    @default("enable_auth_state")
    def _enable_auth_state_default(self) -> bool:
        return True

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("auth_state_groups_key")
    def _auth_state_groups_key_default(self):
        return lambda auth_state: auth_state.get("sandkasse", {}).get("groups", [])

    def _verified_claims(self, access_token: str) -> dict:
        client = self._jwks.get(self.realm_url)
        if client is None:
            client = self._jwks[self.realm_url] = jwt.PyJWKClient(f"{self.realm_url}/protocol/openid-connect/certs", cache_keys=True)
        key = client.get_signing_key_from_jwt(access_token)
        # The audience of a Keycloak access token is "account" or a resource server, not the hub:
        # the token came straight from the token endpoint, so signature, expiry and issuer suffice.
        return jwt.decode(
            access_token,
            key.key,
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"verify_aud": False, "require": ["exp", "iss"]},
        )

    async def update_auth_model(self, auth_model):
        auth_state = auth_model.get("auth_state") or {}
        claims = await asyncio.to_thread(self._verified_claims, auth_state["access_token"])
        roles = sorted(set((claims.get("realm_access") or {}).get("roles") or []))
        userinfo = auth_state.get(self.user_auth_state_key) or {}
        groups = claims.get("groups") or userinfo.get("groups") or []
        groups = {g.strip("/").split("/")[-1] for g in groups if isinstance(g, str) and g.strip("/")} - {HUB_OPERATORS_GROUP}
        if self.admin_role in roles:
            groups.add(HUB_OPERATORS_GROUP)
        # the account behind the name: a name freed by deleting an account is refused to the next one
        auth_state["sandkasse"] = {"roles": roles, "groups": sorted(groups), "sub": str(claims.get("sub") or "")}
        auth_model["auth_state"] = auth_state
        auth_model["admin"] = False  # also demotes anyone a former version made hub admin
        return auth_model

    def normalize_username(self, username: str) -> str:
        # The spelling provisioning and egress use (sandkasse.usernames), so ``Ingrid`` logs in as the
        # member ``ingrid`` and her server, volume and egress token carry one name.
        return super().normalize_username(normalise_username(username))

    async def check_allowed(self, username, auth_model):
        if auth_model is None:
            return True
        sandkasse = (auth_model.get("auth_state") or {}).get("sandkasse") or {}
        roles = set(sandkasse.get("roles") or [])
        # an applicant gets in too, but the spawner opens nothing for them but their submitted applications' twins
        if not roles & {self.researcher_role, self.admin_role, self.applicant_role}:
            self.log.warning("login refused for %s: no %s or %s realm role", username, self.researcher_role, self.admin_role)
            return False
        # With self-registration a deleted account's name can be registered again: the newcomer would open
        # the twins (and workspaces) kept under it. The name stays its first account's (provisioning.accounts).
        subject = sandkasse.get("sub") or ""
        if not subject or not await self.owns_name(username, subject):
            self.log.warning("login refused for %s: the name belongs to another (deleted) Keycloak account", username)
            return False
        return True

    async def owns_name(self, username: str, subject: str) -> bool:
        from hub.projects import ProjectDirectory  # the hub's one way into provisioning

        return await ProjectDirectory(self.database_url or None).owns_name(username, subject)
