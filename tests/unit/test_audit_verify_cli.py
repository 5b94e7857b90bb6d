"""``sandkasse audit verify`` checks both chains, egress and provisioning, in one database: edits,
cut tails and a missing master key each fail it, and the output names the chain and the problem."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from typer.testing import CliRunner

from egress_review.models import EgressAuditEvent
from egress_review.service import build_service
from egress_review.states import RequestState
from provisioning.models import ProvisioningAuditEvent
from sandkasse.audit_verify import verify_all
from sandkasse.settings import get_settings
from tests.unit.egress.egress_factories import Env, egress_settings, provision

pytestmark = pytest.mark.unit


@pytest.fixture
def env(tmp_path, monkeypatch) -> Env:
    """An egress service and provisioning's projects on one database, one var dir and one master key
    (provisioning reads them from the environment, as in a deployment)."""
    settings = egress_settings(tmp_path)
    for name, value in {"SANDKASSE_VAR_DIR": settings.var_dir, "SANDKASSE_MASTER_KEY": settings.master_key,
                        "SANDKASSE_DATABASE_URL": settings.database_url}.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    provision(settings.effective_database_url)
    e = Env(build_service(settings), settings)
    yield e
    e.svc.close()
    get_settings.cache_clear()


def _tamper(env: Env, *stmts) -> None:
    with env.svc.sessions() as s:
        for stmt in stmts:
            s.execute(stmt)
        s.commit()


def _last_prov_seq(env: Env) -> int:
    with env.svc.sessions() as s:
        return s.execute(text("SELECT max(seq) FROM prov_audit_events")).scalar_one()


def test_both_intact_chains_pass(env, capsys):
    env.make_request(RequestState.SUBMITTED)
    assert verify_all(env.settings) == 0
    out = capsys.readouterr().out
    assert "egress: audit chain OK" in out and "provisioning: audit chain OK" in out


def test_an_edited_egress_event_fails_and_is_located(env, capsys):
    env.make_request(RequestState.SUBMITTED)
    _tamper(env, update(EgressAuditEvent).where(EgressAuditEvent.seq == 2).values(detail="{}"))
    assert verify_all(env.settings) == 1
    out = capsys.readouterr().out
    assert "egress: audit chain BROKEN at event 2" in out and "provisioning: audit chain OK" in out


def test_an_edited_provisioning_event_fails_and_is_located(env, capsys):
    _tamper(env, update(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == 1).values(actor="mallory"))
    assert verify_all(env.settings) == 1
    assert "provisioning: audit chain BROKEN at event 1" in capsys.readouterr().out


def test_a_cut_provisioning_tail_fails(env, capsys):
    last = _last_prov_seq(env)
    _tamper(env, delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == last))
    assert verify_all(env.settings) == 1
    out = capsys.readouterr().out
    assert f"provisioning: the sealed head says the last event is {last} but the table ends at {last - 1} (events cut off the end)" in out
    assert "provisioning: audit chain OK" in out, "the shorter chain is itself valid: only the head shows the cut"


def test_a_cut_egress_tail_fails(env, capsys):
    env.make_request(RequestState.SUBMITTED)
    with env.svc.sessions() as s:
        last = s.execute(text("SELECT max(seq) FROM egress_audit_events")).scalar_one()
    _tamper(env, delete(EgressAuditEvent).where(EgressAuditEvent.seq == last))
    assert verify_all(env.settings) == 1
    assert "egress: the sealed head says" in capsys.readouterr().out


def test_without_the_master_key_the_heads_cannot_be_checked(env, capsys, monkeypatch):
    monkeypatch.delenv("SANDKASSE_MASTER_KEY")
    get_settings.cache_clear()
    assert verify_all(get_settings()) == 1
    captured = capsys.readouterr()
    assert "egress: cannot check the sealed chain head" in captured.err
    assert "provisioning: cannot check the audit head's seal: no master key" in captured.out


def test_the_sandkasse_command_runs_it(env):
    from sandkasse.cli import app

    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "provisioning: audit chain OK" in result.output and "egress: audit chain OK" in result.output
    _tamper(env, delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == _last_prov_seq(env)))
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and "events cut off the end" in result.output
