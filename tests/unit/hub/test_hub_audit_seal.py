"""The hub's audit stream is sealed under its own key, and the hub never holds the master key
(issue 15, item 8)."""

from __future__ import annotations

import json

import pytest
import yaml

from hub.audit import KEY_ENV, append_record, verify_file
from sandkasse.audit import event_hash
from sandkasse.keys import encode_key, generate_key
from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.unit


def _write(path, key, n=3):
    for i in range(n):
        append_record(path, actor="kari", action="notebook.output_volume", object_id="kari/p", detail={"bytes": i}, key=key)


def _rewrite_without_the_key(path) -> None:
    """Someone with the file but not the key edits a record and re-chains everything after it."""
    records = [json.loads(x) for x in path.read_text().splitlines()]
    records[0]["detail"] = json.dumps({"bytes": 0, "note": "nothing to see"})
    prev = "0" * 64
    for rec in records:
        fields = {k: rec[k] for k in ("seq", "at", "actor", "role", "action", "object_type", "object_id", "source", "detail")}
        rec["prev_hash"], rec["hash"] = prev, event_hash(prev, fields)
        prev = rec["hash"]
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def test_a_stream_rewritten_without_the_key_fails_its_seals(tmp_path):
    key = generate_key()
    path = tmp_path / "hub.jsonl"
    _write(path, key)
    assert verify_file(path, key) == (True, 3, "")
    _rewrite_without_the_key(path)
    ok, _, problem = verify_file(path, key)
    assert not ok and problem == "record 1's seal does not match (rewritten)"


def test_control_removed_an_unsealed_stream_accepts_the_rewrite(tmp_path):
    path = tmp_path / "hub.jsonl"
    _write(path, None)
    _rewrite_without_the_key(path)
    assert verify_file(path) == (True, 3, ""), "a hash chain alone is rewritten by anyone who can write the file"
    ok, _, problem = verify_file(path, generate_key())
    assert not ok and "not sealed" in problem


def test_the_hub_takes_its_key_from_the_environment_and_audit_verify_checks_it(tmp_path, monkeypatch, capsys):
    from sandkasse.audit_verify import verify_hub_stream

    key = generate_key()
    monkeypatch.setenv(KEY_ENV, encode_key(key))
    monkeypatch.setenv("SANDKASSE_HUB_STATE_DIR", str(tmp_path))
    _write(tmp_path / "audit" / "hub.jsonl", key=None)  # the spawner's call: no key argument
    assert verify_file(tmp_path / "audit" / "hub.jsonl", key)[0]
    assert verify_hub_stream() is True
    assert "hub: audit stream OK: 3 records" in capsys.readouterr().out
    _rewrite_without_the_key(tmp_path / "audit" / "hub.jsonl")
    assert verify_hub_stream() is False
    assert "hub: audit stream BROKEN: record 1's seal does not match" in capsys.readouterr().out


def test_the_hub_process_never_gets_the_master_key(tmp_path, monkeypatch):
    from hub.run import hub_environment

    monkeypatch.setenv("SANDKASSE_MASTER_KEY", encode_key(generate_key()))
    env = hub_environment({"SANDKASSE_HUB_STATE_DIR": str(tmp_path), "SANDKASSE_MASTER_KEY_FILE": "/etc/key"})
    assert "SANDKASSE_MASTER_KEY" not in env and "SANDKASSE_MASTER_KEY_FILE" not in env


def test_compose_gives_the_master_key_to_init_egress_and_the_portal_only():
    """The portal provisions approved applications (project keys wrap under the master key); never the hub."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    holders = {name for name, svc in compose["services"].items() if "SANDKASSE_MASTER_KEY" in (svc.get("environment") or {})}
    assert holders == {"init", "egress", "portal"}
    assert "SANDKASSE_HUB_AUDIT_KEY" in compose["services"]["hub"]["environment"]


def test_the_demo_hub_gets_no_master_key():
    from sandkasse.demo import hub_environment

    env = hub_environment({"SANDKASSE_MASTER_KEY": "k", "SANDKASSE_HUB_AUDIT_KEY": "h", "SANDKASSE_VAR_DIR": "/v"})
    assert env == {"SANDKASSE_HUB_AUDIT_KEY": "h", "SANDKASSE_VAR_DIR": "/v"}
