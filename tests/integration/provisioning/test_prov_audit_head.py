"""Provisioning's sealed audit head, on SQLite and PostgreSQL: a deleted last event, an edited head and
a chain rewritten from scratch each fail verification even when the shipped JSON lines are gone too;
the migration adopts a chain written before the head existed."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import delete, select, update

from provisioning import audit, service
from provisioning.db import alembic_config, migrate
from provisioning.models import ProvisioningAuditEvent, ProvisioningAuditHead
from sandkasse.audit import GENESIS, append_event, event_hash, head_key, seal
from sandkasse.db import make_engine, make_sessionmaker, session_scope
from sandkasse.keys import load_master_key
from sandkasse.settings import get_settings

pytestmark = pytest.mark.integration


def _people(factory, *names: str) -> None:
    for name in names:
        with session_scope(factory) as s:
            service.upsert_person(s, username=name, full_name=name.title(), roles=["researcher"], actor="anne")


def _verify(factory):
    with session_scope(factory) as s:
        return audit.verify(s)


def _rows(s) -> list[ProvisioningAuditEvent]:
    return list(s.execute(select(ProvisioningAuditEvent).order_by(ProvisioningAuditEvent.seq)).scalars())


def _drop_shipped_lines() -> None:
    """The attacker also has the log file: what is left to catch them is the sealed head."""
    audit.jsonl_path().unlink()


def _besides_the_missing_anchor(problems: list[str]) -> list[str]:
    """The problems other than the (always reported) missing stream that anchors the head."""
    missing = [p for p in problems if "has no anchor outside the database" in p]
    assert len(missing) == 1, problems
    return [p for p in problems if p not in missing]


@pytest.fixture
def chain(factory):
    _people(factory, "ingrid", "ola", "jonas")
    report = _verify(factory)
    assert report.ok and report.chain.events == 3, str(report)
    return factory


def test_the_head_follows_the_last_event_under_provisionings_own_key(chain):
    with session_scope(chain) as s:
        last = _rows(s)[-1]
        head = s.get(ProvisioningAuditHead, 1)
    master = load_master_key(get_settings())
    assert (head.seq, head.hash) == (last.seq, last.hash)
    assert head.seal == seal(head_key(master, "provisioning"), last.seq, last.hash)
    assert head.seal != seal(head_key(master, "egress"), last.seq, last.hash)


def test_a_deleted_last_event_is_detected(chain):
    _drop_shipped_lines()
    with session_scope(chain) as s:
        s.execute(delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == 3))
    report = _verify(chain)
    assert report.chain.ok, "what is left is a valid chain: only the head can tell"
    assert not report.ok
    assert _besides_the_missing_anchor(report.problems) == ["the sealed head says the last event is 3 but the table ends at 2 (events cut off the end)"]


def test_an_edited_head_is_detected(chain):
    """Cutting the tail and moving the head back to match needs the master key for the seal."""
    _drop_shipped_lines()
    with session_scope(chain) as s:
        second = _rows(s)[1]
        s.execute(delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == 3))
        s.execute(update(ProvisioningAuditHead).values(seq=second.seq, hash=second.hash))
    report = _verify(chain)
    assert report.chain.ok and not report.ok
    assert _besides_the_missing_anchor(report.problems) == ["the audit head's seal does not match (head edited)"]


def test_a_head_sealed_with_another_components_key_is_rejected(chain):
    egress_key = head_key(load_master_key(get_settings()), "egress")
    with session_scope(chain) as s:
        head = s.get(ProvisioningAuditHead, 1)
        head.seal = seal(egress_key, head.seq, head.hash)
    assert "the audit head's seal does not match (head edited)" in _verify(chain).problems


@pytest.mark.parametrize("forge_head", [False, True], ids=["head-untouched", "head-moved-unsealed"])
def test_a_chain_rewritten_from_scratch_is_detected(chain, forge_head):
    _drop_shipped_lines()
    with session_scope(chain) as s:
        rows = _rows(s)
        rows[0].actor = "mallory"
        prev = GENESIS
        for row in rows:
            row.prev_hash = prev
            row.hash = event_hash(prev, row.chained_fields())
            prev = row.hash
        if forge_head:
            s.execute(update(ProvisioningAuditHead).values(hash=prev))
    report = _verify(chain)
    assert report.chain.ok, "the rewritten chain is consistent in itself"
    assert not report.ok
    expected = "the audit head's seal does not match (head edited)" if forge_head else "event 3 does not match the sealed head (rewritten)"
    assert _besides_the_missing_anchor(report.problems) == [expected]


def test_a_deleted_head_is_detected_and_not_recreated(chain):
    with session_scope(chain) as s:
        s.execute(delete(ProvisioningAuditHead))
    assert _verify(chain).problems == ["the audit head row is missing"]
    with pytest.raises(RuntimeError, match="no head row"):
        _people(chain, "kari")


def test_shipped_lines_still_show_an_edit_the_head_cannot(chain):
    with session_scope(chain) as s:
        s.execute(delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == 3))
    problems = _verify(chain).problems
    assert any("event 3 was shipped" in p and "(deleted)" in p for p in problems)


def test_events_recorded_without_a_master_key_leave_the_head_unsealed(chain, monkeypatch):
    key = get_settings().master_key
    monkeypatch.delenv("SANDKASSE_MASTER_KEY")
    get_settings.cache_clear()
    _people(chain, "kari")
    unsealed = "the audit head is not sealed (event 4 was recorded without a master key)"
    assert _verify(chain).problems == [unsealed]
    monkeypatch.setenv("SANDKASSE_MASTER_KEY", key)
    get_settings.cache_clear()
    assert _verify(chain).problems == [unsealed]
    _people(chain, "per")  # the next event recorded with the key seals the head again
    assert _verify(chain).ok


def _migrate_to(engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@pytest.fixture
def old_chain(database_url, var_dir):
    """A database at the migration before the head, with three events chained the old way."""
    engine = make_engine(database_url)
    _migrate_to(engine, "0001")
    factory = make_sessionmaker(engine)
    for i in range(1, 4):
        with session_scope(factory) as s:
            append_event(s, ProvisioningAuditEvent, actor="anne", role="admin", action="person.add",
                         object_type="person", object_id=f"p{i}", shipper=audit._shipper)
    yield engine, factory
    engine.dispose()


def test_the_migration_adopts_an_existing_chain(old_chain):
    engine, factory = old_chain
    migrate(engine=engine)
    with session_scope(factory) as s:
        head = s.get(ProvisioningAuditHead, 1)
        last = _rows(s)[-1]
    assert (head.seq, head.hash) == (3, last.hash)
    assert _verify(factory).ok, str(_verify(factory))
    _people(factory, "kari")
    assert _verify(factory).ok
    with session_scope(factory) as s:
        s.execute(delete(ProvisioningAuditEvent).where(ProvisioningAuditEvent.seq == 4))
    assert any("cut off the end" in p for p in _verify(factory).problems)


def test_the_migration_without_a_master_key_leaves_an_unsealed_head(old_chain, monkeypatch):
    engine, factory = old_chain
    key = get_settings().master_key
    monkeypatch.delenv("SANDKASSE_MASTER_KEY")
    get_settings.cache_clear()
    migrate(engine=engine)
    monkeypatch.setenv("SANDKASSE_MASTER_KEY", key)
    get_settings.cache_clear()
    assert _verify(factory).problems == ["the audit head is not sealed (event 3 was recorded without a master key)"]


def test_a_fresh_database_starts_at_the_genesis_head(factory):
    with session_scope(factory) as s:
        head = s.get(ProvisioningAuditHead, 1)
    assert (head.seq, head.hash, head.seal) == (0, GENESIS, "genesis")
    assert _verify(factory).ok
