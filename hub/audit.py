"""The hub's own audit trail: an append-only JSON-lines file in which every record carries the hash of
the previous one (the same chaining as :mod:`sandkasse.audit`), so an edited or deleted line shows, and
a seal (HMAC over its seq and hash) under the hub's own audit key, so the file cannot be rewritten
from scratch by someone without that key.

The key is ``SANDKASSE_HUB_AUDIT_KEY`` (base64, 32 bytes; ``sandkasse init`` makes it): the hub never
holds the master key, which wraps every project's pseudonymisation key and every quarantined file's key.

It records what only the hub sees: what each (user, project) notebook session sent to the browser,
as the hub's meter (:mod:`hub.meter`) counted it on the host, when the server stops, and the meter's
refusals."""

from __future__ import annotations

import fcntl
import hmac
import json
import os
from pathlib import Path
from typing import Any

from sandkasse.audit import GENESIS, event_hash, seal, utcnow
from sandkasse.keys import MasterKeyError, decode_key

KEY_ENV = "SANDKASSE_HUB_AUDIT_KEY"
_FIELDS = ("seq", "at", "actor", "role", "action", "object_type", "object_id", "source", "detail")


def configured_key() -> bytes | None:
    """The hub's audit key from the environment; ``None`` when unset (records are then unsealed, which
    verification reports)."""
    text = os.environ.get(KEY_ENV, "").strip()
    if not text:
        return None
    try:
        return decode_key(text)
    except MasterKeyError as exc:
        raise MasterKeyError(f"{KEY_ENV}: {exc}") from exc


def append_record(
    path: Path, *, actor: str, action: str, object_id: str, detail: dict[str, Any], key: bytes | None = None
) -> dict[str, Any]:
    key = key if key is not None else configured_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one writer at a time: the chain must not fork
        fh.seek(0)
        last = None
        for line in fh:
            if line.strip():
                last = json.loads(line)
        fields = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": utcnow().isoformat(),
            "actor": actor,
            "role": "hub",
            "action": action,
            "object_type": "notebook-session",
            "object_id": object_id,
            "source": "hub",
            "detail": json.dumps(detail, sort_keys=True, default=str),
        }
        prev = last["hash"] if last else GENESIS
        record = {**fields, "prev_hash": prev, "hash": event_hash(prev, fields)}
        if key is not None:
            record["seal"] = seal(key, record["seq"], record["hash"])
        fh.seek(0, 2)
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        return record


def verify_file(path: Path, key: bytes | None = None) -> tuple[bool, int, str]:
    """(ok, records, problem) for the chain in ``path``; with ``key``, every record's seal is checked too
    (a chain rewritten without the key, or a record added without it, fails)."""
    prev, count = GENESIS, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        count += 1
        try:
            rec = json.loads(line)
            fields = {k: rec[k] for k in _FIELDS}
        except (ValueError, KeyError, TypeError):
            return False, count, f"record {count} is not a valid audit record"
        if rec["seq"] != count or rec["prev_hash"] != prev or event_hash(prev, fields) != rec["hash"]:
            return False, count, f"record {count} does not match its chain"
        if key is not None:
            if not rec.get("seal"):
                return False, count, f"record {count} is not sealed (written without the hub's audit key)"
            if not hmac.compare_digest(str(rec["seal"]), seal(key, rec["seq"], rec["hash"])):
                return False, count, f"record {count}'s seal does not match (rewritten)"
        prev = rec["hash"]
    return True, count, ""
