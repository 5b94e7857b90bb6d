"""``sandkasse-admin`` end to end on a real database: declarative apply (idempotent), the lifecycle
commands, clear errors that change nothing, and Keycloak sync with credentials from the environment."""

import json
import os
import secrets

import pytest
import yaml
from typer.testing import CliRunner

from provisioning import audit
from provisioning.cli import app
from provisioning.db import session_factory
from provisioning.operator import os_operator
from sandkasse.db import session_scope

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(database_url, var_dir, monkeypatch):
    monkeypatch.setenv("SANDKASSE_DATABASE_URL", database_url)
    monkeypatch.setenv("SANDKASSE_ACTOR", "anne")
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
        return result

    return run


def spec_file(tmp_path, slug, members, status="active"):
    spec = {
        "slug": slug, "title": "Turnover", "start_date": "2026-01-01", "end_date": "2099-12-31", "status": status,
        "legal_basis": "GDPR art. 6(1)(e)", "members": members,
        "datasets": {"staff": {"columns": {"national_id": "pseudonymise", "gender": "keep", "contracted_days": "keep"},
                               "row_filter": 'council_area == "Education"'}},
    }
    path = tmp_path / f"{slug}-{len(members)}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def audit_count(database_url):
    from provisioning.db import session_factory

    with session_scope(session_factory(database_url)) as s:
        return len(audit.events(s))


def test_apply_is_idempotent_and_follows_the_file(cli, synth_dir, tmp_path, database_url):
    cli("dataset", "add", "staff", "--source", str(synth_dir / "staff.parquet"), "--roles-file", str(roles_file(tmp_path)),
        "--classification", "personal")
    path = spec_file(tmp_path, "turnover", {"jonas": "researcher", "ingrid": "lead"})
    first = cli("apply", str(path), "--no-keycloak")
    assert "created" in first.output and "active" in first.output
    events = audit_count(database_url)
    again = cli("apply", str(path), "--no-keycloak")
    assert "unchanged" in again.output
    assert audit_count(database_url) == events

    smaller = spec_file(tmp_path, "turnover", {"jonas": "researcher"})
    assert "removed member ingrid" in cli("apply", str(smaller), "--no-keycloak").output
    shown = cli("project", "show", "turnover").output
    assert "jonas (researcher)" in shown and "ingrid" not in shown and "k=" in shown

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"slug": "x", "title": "x", "start_date": "2026-05-01", "end_date": "2026-01-01"}))
    assert "before start_date" in cli("apply", str(bad), "--no-keycloak", ok=False).output
    assert audit_count(database_url) == events + 1


def roles_file(tmp_path):
    from provisioning.synth.generate import STAFF_ROLES

    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump(STAFF_ROLES))
    return path


def test_lifecycle_commands_and_clear_errors(cli, synth_dir, tmp_path, database_url, monkeypatch):
    cli("dataset", "add", "staff", "--source", str(synth_dir / "staff.parquet"), "--roles-file", str(roles_file(tmp_path)))
    assert "before start date" in cli("project", "create", "p", "--title", "P", "--start", "2026-02-01", "--end", "2026-01-01", ok=False).output
    cli("project", "create", "p", "--title", "P", "--start", "2026-01-01", "--end", "2099-01-01")
    assert "has no column 'salary'" in cli("grant", "p", "staff", "-c", "salary=keep", ok=False).output
    assert "cannot be granted as 'keep'" in cli("grant", "p", "staff", "-c", "national_id=keep", ok=False).output
    before = audit_count(database_url)
    cli("grant", "p", "staff", "-c", "national_id=pseudonymise", "-c", "unit=keep")
    cli("member", "add", "p", "ola", "--role", "lead")
    cli("project", "approve", "p", "--reason", "board decision 12")
    assert "smallest equivalence class" in cli("project", "activate", "p", "--no-keycloak", ok=False).output
    # The override is recorded under the OS account running the command, never a free-text actor.
    assert "cannot name someone else" in cli("risk", "override", "p", "staff", "--reason", "ok", ok=False).output
    assert "cannot name someone else" in cli("--actor", "per", "risk", "override", "p", "staff", "--reason", "ok", ok=False).output
    monkeypatch.delenv("SANDKASSE_ACTOR")
    operator = os_operator().username
    assert "not a registered admin" in cli("risk", "override", "p", "staff", "--reason", "ok", ok=False).output
    cli("person", "add", "anne", "--role", "admin")
    cli("person", "add", operator, "--role", "admin")
    cli("extract", "build", "p")
    assert "Smallest equivalence class" in cli("risk", "report", "p").output
    cli("--actor", operator.upper(), "risk", "override", "p", "staff", "--reason", "unit-level study; outputs are checked")
    with session_scope(session_factory(database_url)) as s:
        event = next(e for e in audit.events(s) if e.action == "risk.override")
        assert event.actor == operator and json.loads(event.detail)["operator"]["uid"] == os.getuid()
    cli("project", "activate", "p", "--no-keycloak")
    cli("project", "close", "p", "--reason", "finished", "--no-keycloak")
    assert "destroyed" in cli("project", "show", "p").output
    assert "audit chain OK" in cli("audit", "verify").output
    assert audit_count(database_url) > before


@pytest.fixture
def kc_admin(keycloak):
    """Listed before ``cli``: the test bed's secrets are read before ``var_dir`` moves the settings."""
    admin = keycloak.admin()
    admin.get_realm_roles()
    return admin, keycloak.server.admin_password


def test_keycloak_sync_command_uses_credentials_from_the_environment(kc_admin, keycloak, cli, tmp_path, monkeypatch):
    from sandkasse.stack.keycloak_server import ADMIN_USER

    admin, password = kc_admin
    monkeypatch.setenv("SANDKASSE_KEYCLOAK_URL", keycloak.url)
    cli("person", "add", "x", "--role", "researcher")
    assert "no Keycloak admin credentials" in cli("keycloak", "sync", ok=False).output

    monkeypatch.setenv("SANDKASSE_KEYCLOAK_ADMIN_USER", ADMIN_USER)
    monkeypatch.setenv("SANDKASSE_KEYCLOAK_ADMIN_PASSWORD", password)
    tag = secrets.token_hex(3)
    user, slug = f"cli-{tag}", f"cli-{tag}"
    try:
        path = tmp_path / "p.yaml"
        path.write_text(yaml.safe_dump({"slug": slug, "title": "t", "start_date": "2026-01-01", "end_date": "2099-01-01",
                                        "status": "active", "members": {user: "lead", f"ghost-{tag}": "researcher"}}))
        cli("person", "add", user, "--role", "researcher")
        assert f"no Keycloak account for project member(s) ghost-{tag}" in cli("apply", str(path), ok=False).output
        path.write_text(yaml.safe_dump({"slug": slug, "title": "t", "start_date": "2026-01-01", "end_date": "2099-01-01",
                                        "status": "active", "members": {user: "lead"}}))
        cli("apply", str(path))
        group = next(g for g in admin.get_groups({"search": slug}) if g["name"] == f"project-{slug}")
        assert {u["username"] for u in admin.get_group_members(group["id"])} == {user}
        assert "(0 change(s))" in cli("keycloak", "sync", "--project", slug).output
    finally:
        uid = admin.get_user_id(user)
        if uid:
            admin.delete_user(uid)
        for g in admin.get_groups({"search": tag}):
            admin.delete_group(g["id"])
