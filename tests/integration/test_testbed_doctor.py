"""``sandkasse doctor`` tells the truth: OK where a component answers, missing (exit 1) where not.

The shared test Keycloak is not stopped here (other test runs use it); doctor is pointed at a
loopback port where nothing listens instead, which is what a stopped Keycloak looks like to it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from provisioning.db import migrate as migrate_provisioning
from sandkasse.doctor import MIGRATION_SETS, check_docker, check_keycloak, check_migrations
from sandkasse.settings import Settings
from sandkasse.stack.process import free_port, port_open
from tests.testbed.keycloak_fixtures import KeycloakTestbed


def _doctor_cli(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandkasse.cli", "doctor"],
        env={**os.environ, "COLUMNS": "250", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _row(output: str, component: str) -> str:
    rows = [ln for ln in output.splitlines() if ln.strip("│┃ ").startswith(component)]
    assert rows, f"no {component} row in:\n{output}"
    return rows[0]


@pytest.mark.integration
def test_doctor_says_keycloak_is_up_then_missing(keycloak: KeycloakTestbed) -> None:
    up = _doctor_cli(SANDKASSE_KEYCLOAK_URL=keycloak.url)
    assert "OK" in _row(up.stdout, "Keycloak")

    dead_port = free_port()
    assert not port_open(dead_port)
    down = _doctor_cli(SANDKASSE_KEYCLOAK_URL=f"http://127.0.0.1:{dead_port}")
    row = _row(down.stdout, "Keycloak")
    assert "missing" in row and f"127.0.0.1:{dead_port}" in row
    assert down.returncode == 1
    assert "Keycloak" in down.stdout.splitlines()[-1]  # named in the closing "N missing: ..." line


@pytest.mark.integration
def test_keycloak_check_follows_the_realm(keycloak: KeycloakTestbed) -> None:
    assert check_keycloak(Settings(keycloak_url=keycloak.url)).ok
    wrong_realm = check_keycloak(Settings(keycloak_url=keycloak.url, keycloak_realm="no-such-realm"))
    assert not wrong_realm.ok and "HTTP 404" in wrong_realm.detail


@pytest.mark.e2e
def test_docker_check_sees_the_running_engine(docker_client) -> None:
    assert check_docker(Settings()).ok


@pytest.mark.integration
def test_database_check_reports_unmigrated_then_head(database_url: str) -> None:
    label, path, fix = MIGRATION_SETS[0]
    settings = Settings(database_url=database_url)
    before = check_migrations(settings, label, path, fix)
    assert not before.ok
    migrate_provisioning(database_url)
    after = check_migrations(settings, label, path, fix)
    assert after.ok and "at head" in after.detail


@pytest.mark.integration
def test_database_check_names_an_unreachable_server() -> None:
    label, path, fix = MIGRATION_SETS[0]
    url = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/nothing"
    result = check_migrations(Settings(database_url=url), label, path, fix)
    assert not result.ok and "cannot connect" in result.detail and ":x@" not in result.detail
