"""Keycloak sync against the real Keycloak of the test bed (the ``keycloak`` fixture). Names carry a
random suffix because the realm is shared with other tests; what a test creates it deletes."""

import secrets

import pytest

from provisioning import service
from provisioning.errors import SyncError
from provisioning.keycloak_sync import KeycloakSync
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import make_project

pytestmark = pytest.mark.integration


@pytest.fixture
def kc(keycloak):
    # Tests list this fixture before ``catalogue``: the admin client must read the test bed's secret
    # before ``var_dir`` points the settings at a temporary folder. Logging in now keeps it that way.
    admin = keycloak.admin()
    admin.get_realm_roles()
    tag = secrets.token_hex(3)
    made: list[str] = []
    yield admin, tag, made
    for username in made:
        user_id = admin.get_user_id(username)
        if user_id:
            admin.delete_user(user_id)
    for group in admin.get_groups({"search": tag}):
        admin.delete_group(group["id"])


def group_members(admin, name: str) -> set[str]:
    groups = [g for g in admin.get_groups({"search": name, "exact": "true"}) if g["name"] == name]
    assert len(groups) == 1, f"expected one group {name}"
    return {u["username"] for u in admin.get_group_members(groups[0]["id"])}


def realm_roles(admin, username: str) -> set[str]:
    return {r["name"] for r in admin.get_realm_roles_of_user(admin.get_user_id(username))}


def test_groups_follow_membership_and_lifecycle(kc, catalogue):
    admin, tag, made = kc
    lead, res, other, checker = (f"{n}-{tag}" for n in ("lead", "res", "other", "checker"))
    made += [lead, res, other, checker]
    a, b = f"a-{tag}", f"b-{tag}"
    with session_scope(catalogue) as s:
        for u in (lead, res, other):
            service.upsert_person(s, username=u, full_name=f"Test {u}", roles=["researcher"])
        service.upsert_person(s, username=checker, full_name="Check Er", roles=["output-checker"])
    make_project(catalogue, a, {lead: "lead", res: "researcher"}, {})
    make_project(catalogue, b, {other: "researcher"}, {})
    sync = KeycloakSync(admin, actor="anne")
    with session_scope(catalogue) as s:
        service.activate(s, a, actor="anne", build=False)
        service.activate(s, b, actor="anne", build=False)
    with session_scope(catalogue) as s:
        first = sync.sync(s)
    assert {lead, res, other, checker} <= set(first.created)
    assert group_members(admin, f"project-{a}") == {lead, res}
    assert group_members(admin, f"project-{b}") == {other}
    assert realm_roles(admin, checker) >= {"output-checker"} and "researcher" not in realm_roles(admin, checker)
    assert "researcher" in realm_roles(admin, res)

    with session_scope(catalogue) as s:
        assert sync.sync(s).changes == 0, "a second sync must change nothing"

    with session_scope(catalogue) as s:
        service.remove_member(s, a, res, actor="anne", reason="left")
        sync.sync(s)
    assert group_members(admin, f"project-{a}") == {lead}

    with session_scope(catalogue) as s:
        service.suspend(s, a, actor="anne", reason="audit", keycloak=sync)
    assert group_members(admin, f"project-{a}") == set()
    with session_scope(catalogue) as s:
        service.activate(s, a, actor="anne", keycloak=sync)
    assert group_members(admin, f"project-{a}") == {lead}
    with session_scope(catalogue) as s:
        service.close(s, b, actor="anne", reason="done", keycloak=sync)
    assert group_members(admin, f"project-{b}") == set()

    with session_scope(catalogue) as s:
        service.upsert_person(s, username=lead, full_name=f"Test {lead}", roles=["researcher"], enabled=False)
        report = sync.sync(s)
    assert lead in report.disabled
    assert admin.get_user(admin.get_user_id(lead))["enabled"] is False
    assert group_members(admin, f"project-{a}") == set()


def test_member_without_account_is_refused_before_any_change(kc, catalogue):
    admin, tag, made = kc
    known, ghost = f"known-{tag}", f"ghost-{tag}"
    made += [known, ghost]
    slug = f"c-{tag}"
    with session_scope(catalogue) as s:
        service.upsert_person(s, username=known, roles=["researcher"])
    make_project(catalogue, slug, {known: "lead", ghost: "researcher"}, {})
    with session_scope(catalogue) as s:
        service.activate(s, slug, actor="anne", build=False)
    with pytest.raises(SyncError, match=ghost):
        with session_scope(catalogue) as s:
            KeycloakSync(admin).sync(s)
    assert admin.get_user_id(known) is None, "the refused sync must not have created anyone"
    assert not [g for g in admin.get_groups({"search": slug}) if g["name"] == f"project-{slug}"]

    # activation with Keycloak is refused the same way and leaves the project as it was
    make_project(catalogue, f"d-{tag}", {ghost: "lead"}, {})
    with pytest.raises(SyncError):
        with session_scope(catalogue) as s:
            service.activate(s, f"d-{tag}", actor="anne", keycloak=KeycloakSync(admin), build=False)
    with session_scope(catalogue) as s:
        assert service.get_project(s, f"d-{tag}").status.value == "approved"


def test_a_self_registered_account_under_a_registered_persons_name_gets_nothing(kc, catalogue):
    """Self-registration lets anyone pick a user name: one taken before the sync made the account of a
    person provisioning registered (a member an application invites by e-mail, a new DPO) must get
    neither the person's roles nor their projects. The account is made here as Keycloak's registration
    form makes it: the address typed in, not verified."""
    admin, tag, made = kc
    carol, slug = f"carol-{tag}", f"s-{tag}"
    made.append(carol)
    squat = admin.create_user({"username": carol, "enabled": True, "firstName": "C", "lastName": "Q",
                               "email": f"{carol}@uni.example", "emailVerified": False}, exist_ok=False)
    with session_scope(catalogue) as s:
        service.upsert_person(s, username=carol, email=f"{carol}@uni.example", roles=["researcher", "dpo"])
    make_project(catalogue, slug, {carol: "lead"}, {})
    with session_scope(catalogue) as s:
        service.activate(s, slug, actor="anne", build=False)
    with pytest.raises(SyncError, match=carol):
        with session_scope(catalogue) as s:
            KeycloakSync(admin).sync(s)
    assert not {"researcher", "dpo"} & realm_roles(admin, carol)
    assert not [g for g in admin.get_groups({"search": slug}) if g["name"] == f"project-{slug}"]

    # once an admin has checked the account (verified its address), it is the person's
    admin.update_user(squat, {"emailVerified": True})
    with session_scope(catalogue) as s:
        KeycloakSync(admin).sync(s, slugs=[slug])
    assert group_members(admin, f"project-{slug}") == {carol}
    assert {"researcher", "dpo"} <= realm_roles(admin, carol)


def test_a_deleted_accounts_name_registered_again_inherits_no_project(kc, catalogue):
    """A portal applicant who leads a project is not a registered person, so the e-mail check does not
    guard their name: when their account is deleted and someone self-registers the name, the sync must
    not put the newcomer in the project's group (the name is a tombstone bound to the first account)
    until an admin releases it. Accounts are made as Keycloak's registration form makes them."""
    from provisioning import accounts

    admin, tag, made = kc
    pia, slug = f"pia-{tag}", f"t-{tag}"
    made.append(pia)

    def register() -> str:
        return admin.create_user({"username": pia, "enabled": True, "firstName": "P", "lastName": "A",
                                  "email": f"{pia}@uni.example", "emailVerified": False}, exist_ok=False)

    first = register()
    make_project(catalogue, slug, {pia: "lead"}, {})
    with session_scope(catalogue) as s:
        service.activate(s, slug, actor="anne", build=False)
    with session_scope(catalogue) as s:
        KeycloakSync(admin).sync(s, slugs=[slug])
        assert accounts.bound_to(s, pia) == first
    assert group_members(admin, f"project-{slug}") == {pia}

    admin.delete_user(first)  # deleted, not disabled; the project still names pia
    newcomer = register()
    with pytest.raises(SyncError, match=pia):
        with session_scope(catalogue) as s:
            KeycloakSync(admin).sync(s, slugs=[slug])
    assert group_members(admin, f"project-{slug}") == set()

    with session_scope(catalogue) as s:  # an admin who checked it is the same person moves the name
        accounts.release(s, pia, actor="anne", reason="the same person, re-registered")
    with session_scope(catalogue) as s:
        KeycloakSync(admin).sync(s, slugs=[slug])
        assert accounts.bound_to(s, pia) == newcomer
    assert group_members(admin, f"project-{slug}") == {pia}
