"""The demo realm lets people register themselves as applicants (never the realm file, which
production imports too): registration on, and ``applicant`` among the realm's default roles."""

from __future__ import annotations

from keycloak import KeycloakAdmin


def allow_self_registration(admin: KeycloakAdmin, realm: str) -> None:
    admin.update_realm(realm, {"registrationAllowed": True})
    default = f"default-roles-{realm}"
    have = {r["name"] for r in admin.get_composite_realm_roles_of_role(default)}
    if "applicant" not in have:
        admin.add_composite_realm_roles_to_role(default, [admin.get_realm_role("applicant")])


def close_self_registration(admin: KeycloakAdmin, realm: str) -> None:
    """Undo :func:`allow_self_registration` (a test that opened it leaves the realm as it found it)."""
    admin.update_realm(realm, {"registrationAllowed": False})
    default = f"default-roles-{realm}"
    if "applicant" in {r["name"] for r in admin.get_composite_realm_roles_of_role(default)}:
        admin.remove_composite_realm_roles_to_role(default, [admin.get_realm_role("applicant")])
