"""The DP guarantee of an exported table, as checkers see it (issue 18.3, review path).

A table written by ``egress_review.dp.DPAnswer.export`` carries a sidecar naming its query. The
sidecar is the researcher's claim; the guarantee shown is what the service's own audit log says of
that query (``dp.query``, same project): measure and amount, mechanism, contribution bound, who asked
and when, and whether the table's ``value`` column is exactly the audited noisy answer. A claim with
no such event, or a table that differs from the answer, is shown as not verified.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.models import EgressAuditEvent, FileVersion
from egress_review.quarantine.store import QuarantineStore
from egress_review.submission import sidecar_context


def _claimed_query(store: QuarantineStore, version: FileVersion) -> str | None:
    if not version.sidecar:
        return None
    try:
        sidecar = json.loads(store.unseal(sidecar_context(version.file_id), version.sidecar))
    except Exception:  # noqa: BLE001 - an unreadable sidecar claims nothing
        return None
    dp = sidecar.get("dp") if isinstance(sidecar, dict) else None
    query = dp.get("query_id") if isinstance(dp, dict) else None
    return query if isinstance(query, str) and query else None


def _audited(session: Session, project: str, query_id: str) -> EgressAuditEvent | None:
    for ev in session.execute(
        select(EgressAuditEvent).where(EgressAuditEvent.action == "dp.query", EgressAuditEvent.object_id == project)
    ).scalars():
        if json.loads(ev.detail or "{}").get("query") == query_id:
            return ev
    return None


def _table_values(store: QuarantineStore, version: FileVersion) -> list[str] | None:
    with tempfile.TemporaryDirectory(dir=store.scratch) as tmp:
        path = Path(tmp) / "table.csv"
        store.decrypt_to(version.blob, version.id, version.wrapped_key, path)
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                return [row["value"] for row in csv.DictReader(fh)]
        except (UnicodeDecodeError, KeyError, csv.Error):
            return None


def _same(table: list[str] | None, answer: dict[str, Any]) -> bool:
    expected = [c["value"] for c in answer["cells"]] if "cells" in answer else [answer.get("value")]
    if table is None or len(table) != len(expected):
        return False
    try:
        return all(float(a) == float(b) for a, b in zip(table, expected, strict=True))
    except (TypeError, ValueError):
        return False


def guarantee_of(session: Session, store: QuarantineStore, project: str, version: FileVersion) -> dict[str, Any] | None:
    """None when the file claims no DP query; otherwise the audited guarantee and ``verified``."""
    query_id = _claimed_query(store, version)
    if query_id is None:
        return None
    ev = _audited(session, project, query_id)
    if ev is None:
        return {"query": query_id, "verified": False, "why": "no such DP query of this project in the audit log"}
    detail = json.loads(ev.detail or "{}")
    measure = detail.get("measure")
    same = _same(_table_values(store, version), detail.get("answer") or {})
    return {
        "query": query_id, "verified": same,
        "why": "" if same else "the table's values differ from the audited noisy answer",
        "dataset": detail.get("dataset"), "kind": detail.get("kind"), "columns": detail.get("columns"),
        "measure": measure, "amount": detail.get(measure), "mechanism": detail.get("mechanism"),
        "max_rows": detail.get("max_rows"), "bounds": detail.get("bounds"), "by": ev.actor, "at": ev.at.isoformat(),
    }


def manifest_entry(session: Session, store: QuarantineStore, project: str, version: FileVersion) -> dict[str, Any]:
    """What the signed release manifest says of a file's DP guarantee: the audited parameters when
    the table is exactly the audited answer, nothing otherwise."""
    g = guarantee_of(session, store, project, version)
    if not g or not g["verified"]:
        return {}
    return {"dp": {k: g[k] for k in ("query", "dataset", "kind", "measure", "amount", "mechanism", "max_rows", "bounds")}}
