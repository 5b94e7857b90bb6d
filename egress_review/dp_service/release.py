"""Release of a DP answer without human review, when ``policies/egress.yaml`` says ``dp.answers: release``.

The table is rebuilt from the ``dp.query`` audit event (the noisy answer the service itself returned),
never taken from the researcher, written to ``<release dir>/<project>/dp-<query>/`` with a manifest
signed by the release key that names the query, dataset, epsilon or rho, mechanism and contribution
bound, and recorded as a ``dp.released`` audit event. Releasing the same answer again returns the same
release. With ``dp.answers: review`` the service refuses and points to the checkers' path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

from egress_review.audit import Actor
from egress_review.dp_service.guarantee import _audited
from egress_review.errors import Forbidden, NotFound
from egress_review.identity.principal import Principal, Via
from egress_review.service import EgressService
from provisioning import api as prov
from sandkasse.audit import utcnow

MANIFEST = "manifest.json"


def _table(detail: dict[str, Any]) -> bytes:
    answer = detail.get("answer") or {}
    rows = answer["cells"] if "cells" in answer else [{k: answer.get(k) for k in ("value", "low", "high")}]
    out = io.StringIO()
    # the audit log keeps keys sorted: labels first again, then the answer and its interval
    fields = [k for k in rows[0] if k not in ("value", "low", "high")] + ["value", "low", "high"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _folder(svc: EgressService, project: str, query_id: str) -> Path:
    if not query_id or not query_id.isalnum():
        raise NotFound("no such DP query")
    return Path(svc.release_dir) / project / f"dp-{query_id}"


def released(svc: EgressService, p: Principal, query_id: str, project: str | None = None) -> dict[str, Any]:
    """The signed document and the table of a released answer, for members of its project."""
    project = project or p.project
    if project is None:
        raise NotFound("say which project")
    with svc.read_sessions() as session:
        member = (p.project in (None, project)) and prov.can_access_project(session, p.username, project)
        session.rollback()
    if not member:
        raise NotFound("this DP answer has not been released")
    folder = _folder(svc, project, query_id)
    if not (folder / MANIFEST).is_file():
        raise NotFound("this DP answer has not been released")
    document = json.loads((folder / MANIFEST).read_text())
    name = document["manifest"]["files"][0]["name"]
    return {"document": document, "name": name, "table": (folder / name).read_text(encoding="utf-8")}


def release_answer(svc: EgressService, p: Principal, query_id: str) -> dict[str, Any]:
    if svc.policy.dp.answers != "release":
        raise Forbidden("DP answers are reviewed here: export the answer with request_export and the output "
                        "checkers will see its guarantee (policies/egress.yaml dp.answers: review)")
    if p.via is not Via.PROJECT_TOKEN or p.project is None:
        raise Forbidden("DP answers are released from inside their project (project token)")
    project = p.project
    folder = _folder(svc, project, query_id)
    if (folder / MANIFEST).is_file():
        return released(svc, p, query_id, project)
    with svc.sessions() as session:
        ev = _audited(session, project, query_id)
        if ev is None:
            raise NotFound("no such DP query of this project")
        if ev.actor != p.username:
            raise Forbidden("only the researcher who asked may release a DP answer")
        detail = json.loads(ev.detail or "{}")
        measure = detail["measure"]
        table = _table(detail)
        name = f"dp_{detail['kind']}_{query_id[:8]}.csv"
        manifest = {
            "kind": "dp-answer", "project": project, "requester": p.username, "query": query_id,
            "released_at": utcnow().isoformat(), "review": "none (policy dp.answers: release)",
            "dataset": detail.get("dataset"), "query_kind": detail.get("kind"), "columns": detail.get("columns"),
            "measure": measure, measure: detail.get(measure), "mechanism": detail.get("mechanism"),
            "max_rows": detail.get("max_rows"), "bounds": detail.get("bounds"),
            "files": [{"name": name, "sha256": hashlib.sha256(table).hexdigest(), "size": len(table)}],
        }
        document = svc.signer.sign(manifest)
        staging = Path(svc.release_dir) / ".staging" / f"dp-{query_id}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o750)
        try:
            (staging / name).write_bytes(table)
            (staging / MANIFEST).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
            folder.parent.mkdir(parents=True, exist_ok=True)
            svc.audit.record(session, Actor(p.username, "researcher", p.source), "dp.released", "project", project,
                             {"query": query_id, "file": name, "sha256": manifest["files"][0]["sha256"],
                              "measure": measure, measure: detail.get(measure), "mechanism": detail.get("mechanism")})
            os.rename(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        session.commit()
    return {"document": document, "name": name, "table": table.decode()}
