"""Keycloak stores user names in lower case: the sync compares that way, so a member spelled
``Ingrid-…`` (a row from before provisioning normalised names) is the Keycloak user ``ingrid-…``,
gets the group, and a second sync changes nothing (no remove-and-add churn every run)."""

import pytest

from provisioning import service
from provisioning.keycloak_sync import KeycloakSync
from provisioning.models import Member, Person
from provisioning.projects import get_project
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import make_project
from tests.integration.provisioning.test_prov_keycloak_sync import group_members, kc  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def test_sync_matches_user_names_case_insensitively(kc, catalogue):  # noqa: F811
    admin, tag, made = kc
    lower = f"ingrid-{tag}"
    made.append(lower)
    slug = f"c-{tag}"
    make_project(catalogue, slug, {}, {}, status="draft")
    with session_scope(catalogue) as s:  # written past provisioning's own normalisation, as an old row would be
        s.add(Person(username=f"Ingrid-{tag}", full_name="Ingrid Case", realm_roles="researcher"))
        project = get_project(s, slug)
        project.members.append(Member(username=f"INGRID-{tag}", role="lead"))
    with session_scope(catalogue) as s:
        service.approve(s, slug, actor="anne", reason="ok")
        service.activate(s, slug, actor="anne", build=False)
    sync = KeycloakSync(admin, actor="anne")
    with session_scope(catalogue) as s:
        first = sync.sync(s)
    assert lower in first.created
    assert group_members(admin, f"project-{slug}") == {lower}
    with session_scope(catalogue) as s:
        assert sync.sync(s).changes == 0, "a second sync must change nothing"
