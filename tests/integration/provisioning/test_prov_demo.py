"""The demo seed against the real Keycloak: projects, members, groups, roles and working passwords.
The demo's usernames are fixed (ingrid, ola, jonas, kari, per, anne); the seed is idempotent, so the
accounts are left in place for other tests and the demo."""

import pandas as pd
import pytest

from provisioning import api, audit
from provisioning.demo import seed_demo
from sandkasse.db import session_scope

pytestmark = pytest.mark.integration


@pytest.fixture
def kc_admin(keycloak):
    """Listed before ``factory``: the test bed's secrets are read before ``var_dir`` moves the settings."""
    admin = keycloak.admin()
    admin.get_realm_roles()
    return admin


def members(admin, group: str) -> set[str]:
    (g,) = [g for g in admin.get_groups({"search": group, "exact": "true"}) if g["name"] == group]
    return {u["username"] for u in admin.get_group_members(g["id"])}


def test_demo_seed_builds_projects_and_accounts(kc_admin, keycloak, factory, var_dir):
    info = seed_demo(factory, var_dir, keycloak=kc_admin, employees=1500)
    again = seed_demo(factory, var_dir, keycloak=kc_admin, employees=1500)
    assert again.risk_overrides == [], "re-seeding must not record new overrides"

    with session_scope(factory) as s:
        assert [p.slug for p in api.projects_for_user(s, "ingrid")] == ["sick-leave-2026"]
        assert [p.slug for p in api.projects_for_user(s, "jonas")] == ["turnover-2026"]
        assert not api.can_access_project(s, "ingrid", "turnover-2026")
        assert api.member_role(s, "ingrid", "sick-leave-2026") == "lead"
        assert api.member_role(s, "ola", "sick-leave-2026") == "researcher"
        assert audit.verify(s).ok
    extract = pd.read_parquet(info.projects["sick-leave-2026"] / "sick-leave.parquet")
    assert "first_name" not in extract.columns and "age_band" in extract.columns
    assert extract.national_id.str.fullmatch(r"[0-9a-f]{16}").all()

    assert members(kc_admin, "project-sick-leave-2026") == {"ingrid", "ola"}
    assert members(kc_admin, "project-turnover-2026") == {"jonas"}
    roles = {u: {r["name"] for r in kc_admin.get_realm_roles_of_user(kc_admin.get_user_id(u))} for u in info.users}
    assert "output-checker" in roles["kari"] and "output-checker" in roles["per"] and "admin" in roles["anne"]
    assert "researcher" in roles["ingrid"] and "researcher" not in roles["kari"]
    passwords = {u.password for u in again.users.values()}
    assert None not in passwords and len(passwords) == len(again.users), "passwords are generated per user"
    token = keycloak.token("ola", again.users["ola"].password)
    assert token["access_token"]

    # issue 20.8: one application waits for each role of the portal, made once
    from sqlalchemy import select

    from provisioning.applications.models import Application

    with session_scope(factory) as s:
        states = sorted(s.execute(select(Application.state)).scalars())
    assert states == ["controller_approval", "dpo_assessment", "returned", "submitted"]
    for user, role in (("alma", "applicant"), ("siri", "dataset-owner"), ("dag", "dpo"), ("kjell", "controller")):
        assert role in roles[user]
