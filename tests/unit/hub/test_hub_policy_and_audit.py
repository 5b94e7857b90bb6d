"""The security policy validates, and the hub's audit file is a hash chain that shows edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.audit import append_record, verify_file
from hub.policy import load_security_policy, security_policy
from sandkasse.policy import PolicyError
from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.unit


def test_repository_policy_is_valid_and_strict():
    p = security_policy()
    assert p.sandbox.uid != 0 and p.sandbox.read_only_root
    assert p.lifecycle.enforce_interval_seconds <= 60
    assert len(p.network.bridge_prefix) < 15


def test_root_user_is_refused(tmp_path: Path):
    text = (REPO_ROOT / "policies" / "security.yaml").read_text().replace("uid: 1000", "uid: 0")
    bad = tmp_path / "security.yaml"
    bad.write_text(text)
    with pytest.raises(PolicyError):
        load_security_policy(bad)


def test_audit_chain_detects_an_edit(tmp_path: Path):
    path = tmp_path / "hub.jsonl"
    for n in range(3):
        append_record(path, actor="kari", action="notebook.output_volume", object_id="kari/p", detail={"bytes": n})
    assert verify_file(path) == (True, 3, "")
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["detail"] = json.dumps({"bytes": 0})
    lines[1] = json.dumps(rec, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    ok, _, problem = verify_file(path)
    assert not ok and "record 2" in problem
