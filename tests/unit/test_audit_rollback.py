"""The sealed audit head cannot be rolled back (issue 15, item 8): whoever can write the database can put
back an earlier (seq, hash, seal) head and delete the events after it; every check inside the database
then passes. Each shipped JSON line carries the seal of the head it produced, and ``sandkasse audit
verify`` compares the table's head with the last sealed head shipped."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from egress_review import audit as egress_audit
from egress_review.models import AuditHead, EgressAuditEvent
from egress_review.states import RequestState
from sandkasse.audit_verify import verify_all
from sandkasse.keys import load_master_key
from tests.unit.test_audit_verify_cli import env  # noqa: F401  (the fixture: egress and provisioning on one database)

pytestmark = pytest.mark.unit


def _head(env) -> tuple[int, str, str]:
    with env.svc.sessions() as s:
        head = s.get(AuditHead, 1)
        return head.seq, head.hash, head.seal


def _roll_back_to(env, old: tuple[int, str, str]) -> None:
    """What a database administrator can do without any key: restore an earlier head row, drop the rest."""
    seq, hash_, seal_ = old
    with env.svc.sessions() as s:
        s.execute(delete(EgressAuditEvent).where(EgressAuditEvent.seq > seq))
        s.execute(update(AuditHead).values(seq=seq, hash=hash_, seal=seal_))
        s.commit()


@pytest.fixture
def rolled_back(env):
    env.make_request(RequestState.SUBMITTED)
    earlier = _head(env)
    env.make_request(RequestState.SUBMITTED)
    assert _head(env)[0] > earlier[0]
    _roll_back_to(env, earlier)
    return env, earlier


def test_a_rolled_back_head_is_reported_by_audit_verify(rolled_back, capsys):
    env, earlier = rolled_back
    assert verify_all(env.settings) == 1
    out = capsys.readouterr().out
    assert f"egress: the audit head was rolled back: the table's sealed head is event {earlier[0]}" in out
    assert "egress: audit chain OK" in out, "the shortened chain and the old head are valid in themselves"


def test_control_removed_without_the_shipped_anchor_the_rollback_passes(rolled_back):
    """The same rollback checked inside the database only (the stream not consulted): nothing shows."""
    env, _ = rolled_back
    key = egress_audit.head_key(load_master_key(env.settings))
    with env.svc.sessions() as s:
        assert egress_audit.verify(s, key, None).ok


def test_deleting_the_stream_as_well_is_reported(rolled_back, capsys):
    env, _ = rolled_back
    env.settings.audit_jsonl.unlink()
    assert verify_all(env.settings) == 1
    assert "has no anchor outside the database" in capsys.readouterr().out


def test_a_forged_anchor_line_is_reported_not_trusted(env, capsys):
    env.make_request(RequestState.SUBMITTED)
    seq, hash_, _ = _head(env)
    with env.settings.audit_jsonl.open("a") as fh:  # someone with the file but not the key
        fh.write(json.dumps({"seq": seq + 5, "hash": "f" * 64, "head_seal": "0" * 64}) + "\n")
    assert verify_all(env.settings) == 1
    out = capsys.readouterr().out
    assert "carries a head seal that does not match (forged line)" in out
    assert "rolled back" not in out, "a line without a valid seal is no anchor"


def test_every_shipped_line_carries_the_seal_of_its_head(env):
    env.make_request(RequestState.SUBMITTED)
    lines = [json.loads(x) for x in env.settings.audit_jsonl.read_text().splitlines()]
    with env.svc.sessions() as s:
        last = s.execute(select(EgressAuditEvent).order_by(EgressAuditEvent.seq.desc()).limit(1)).scalar_one()
    assert lines[-1]["seq"] == last.seq and lines[-1]["head_seal"] == _head(env)[2]
    assert all(line.get("head_seal") for line in lines)
