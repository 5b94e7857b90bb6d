"""Root conftest: the real test bed (Docker engine, base image, Keycloak, PostgreSQL) comes from
``tests/testbed``; its fixtures are session-scoped, started once per run and torn down after.
A fixture whose component fails to start raises with the reason: nothing is silently skipped."""

pytest_plugins = ["tests.testbed.fixtures"]

import os
import tempfile

import pytest

# Components write their audit JSON lines under var/audit by default, where the demo's chains live:
# a test run must not add lines from its throw-away databases there. Session fixtures get one
# directory for the run, each test its own (a test that checks the lines reads its service's path).
os.environ.setdefault("SANDKASSE_AUDIT_DIR", tempfile.mkdtemp(prefix="sandkasse-test-audit-"))


@pytest.fixture(autouse=True)
def _own_audit_dir(tmp_path_factory, monkeypatch):
    from sandkasse.settings import get_settings

    monkeypatch.setenv("SANDKASSE_AUDIT_DIR", str(tmp_path_factory.mktemp("audit")))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
