"""The test bed stops the Keycloak its run started, and leaves alone one that was already running
(issue 14, item 1: a Keycloak left behind by one run broke the next demo and the egress benchmark).
The server here is a stand-in recording calls: starting a real Keycloak twice would cost minutes; the
real fixture runs this same context manager around the real server."""

from __future__ import annotations

import pytest

from tests.testbed import keycloak_fixtures
from tests.testbed.keycloak_fixtures import keycloak_for_run


class FakeKeycloak:
    def __init__(self, running: bool) -> None:
        self.running = running
        self.process = None
        self.calls: list[str] = []

    def ensure(self):
        if not self.running:
            self.process = object()  # what KeycloakServer._start leaves when it started the server
            self.running = True
        self.calls.append("ensure")
        return self

    def stop(self) -> None:
        self.running = False
        self.calls.append("stop")


@pytest.fixture(autouse=True)
def _no_admin_api(monkeypatch):
    # the fake server above has no admin API to register the test client with; only its lifetime is tested
    monkeypatch.setattr(keycloak_fixtures, "ensure_test_client", lambda server: None)
    monkeypatch.delenv("SANDKASSE_TEST_KEEP_KEYCLOAK", raising=False)


def test_a_keycloak_this_run_started_is_stopped_after_it():
    server = FakeKeycloak(running=False)
    with keycloak_for_run(server):
        assert server.running
    assert server.calls == ["ensure", "stop"] and not server.running


def test_it_is_stopped_even_when_the_run_fails():
    server = FakeKeycloak(running=False)
    with pytest.raises(RuntimeError), keycloak_for_run(server):
        raise RuntimeError("a test run that ends badly")
    assert not server.running


def test_one_that_was_already_running_is_reused_and_left_running():
    server = FakeKeycloak(running=True)
    with keycloak_for_run(server):
        pass
    assert server.calls == ["ensure"] and server.running


def test_keep_on_request(monkeypatch):
    monkeypatch.setenv("SANDKASSE_TEST_KEEP_KEYCLOAK", "1")
    server = FakeKeycloak(running=False)
    with keycloak_for_run(server):
        pass
    assert server.calls == ["ensure"] and server.running  # started, and left running as asked
