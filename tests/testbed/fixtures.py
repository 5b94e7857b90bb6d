"""The test bed's fixtures, loaded by ``tests/conftest.py`` as a pytest plugin.

Session-scoped, started once per run. A component that fails to start makes its fixture raise with
the reason; tests that need it error loudly and are never skipped.
"""

from __future__ import annotations

import pytest

from tests.testbed.docker_fixtures import base_image, docker_client
from tests.testbed.keycloak_fixtures import KeycloakTestbed, keycloak
from tests.testbed.postgres_fixtures import database_url, postgres_server
from tests.testbed.timing import record_run, summary_line

__all__ = ["KeycloakTestbed", "base_image", "database_url", "docker_client", "keycloak", "postgres_server"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = summary_line()
    if line:
        terminalreporter.write_sep("-", "test bed")
        terminalreporter.write_line(line)
        record_run()
