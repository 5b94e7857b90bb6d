"""The hub's own audit trail: an append-only JSON-lines file in which every record carries the hash of
the previous one (the same chaining as :mod:`sandkasse.audit`), so an edited or deleted line shows.

It records what only the hub sees: what each (user, project) notebook session sent to the browser,
as the hub's meter (:mod:`hub.meter`) counted it on the host, when the server stops, and the meter's
refusals."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

from sandkasse.audit import GENESIS, event_hash, utcnow


def append_record(path: Path, *, actor: str, action: str, object_id: str, detail: dict[str, Any]) -> dict[str, Any]:
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
        fh.seek(0, 2)
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()
        return record


def verify_file(path: Path) -> tuple[bool, int, str]:
    """(ok, records, problem) for the chain in ``path``."""
    prev, count = GENESIS, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        count += 1
        rec = json.loads(line)
        fields = {k: rec[k] for k in ("seq", "at", "actor", "role", "action", "object_type", "object_id", "source", "detail")}
        if rec["seq"] != count or rec["prev_hash"] != prev or event_hash(prev, fields) != rec["hash"]:
            return False, count, f"record {count} does not match its chain"
        prev = rec["hash"]
    return True, count, ""
