"""A demo that fails half-way stops what it started (issue 14, item 1): before, a failed PostgreSQL
step left the Keycloak of the step before it running with parent pid 1, and the next demo from
another checkout met a Keycloak whose admin password it did not know."""

from __future__ import annotations

import pytest

from sandkasse import demo
from sandkasse.settings import get_settings
from sandkasse.stack.process import StackError


def _steps(log: list[str], failure: BaseException) -> list[demo.Step]:
    def up(name):
        def start(_ctx):
            log.append(f"{name} up")
            return [demo.Where(name, "here")]

        return start

    def down(name):
        return lambda _ctx: log.append(f"{name} down")

    def broken(_ctx):
        log.append("postgres half up")
        raise failure

    return [
        demo.Step("docker", up("docker")),  # shared engine: no stop
        demo.Step("keycloak", up("keycloak"), down("keycloak")),
        demo.Step("postgres", broken, down("postgres")),
        demo.Step("hub", up("hub"), down("hub")),
    ]


@pytest.mark.parametrize("failure", [StackError("initdb: Permission denied"), KeyboardInterrupt()])
def test_a_failed_start_stops_every_step_it_reached(tmp_path, monkeypatch, failure):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    log: list[str] = []
    monkeypatch.setattr(demo, "STEPS", _steps(log, failure))
    code = demo.main([])
    assert code == (1 if isinstance(failure, StackError) else 130)
    assert log == ["docker up", "keycloak up", "postgres half up", "postgres down", "keycloak down"]


def test_a_failing_stop_does_not_keep_the_others_running(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    log: list[str] = []
    steps = _steps(log, StackError("boom"))

    def stuck(_ctx):
        raise RuntimeError("postgres will not stop")

    steps[2] = demo.Step("postgres", steps[2].start, stuck)
    monkeypatch.setattr(demo, "STEPS", steps)
    assert demo.main([]) == 1
    assert log[-1] == "keycloak down"
