"""Receiving one file into quarantine, start to finish: permission and state are checked before a
byte is read; the bytes are streamed (encrypted, size-capped, hashed); the content is checked against
its declared type; the automatic disclosure checks run; the blob is made durable; and only then the
version row and its audit event are committed. Any refusal leaves nothing stored."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from egress_review import projects, submission
from egress_review.autocheck import CheckInput, CheckOutcome, run_checks
from egress_review.identity.principal import Principal
from egress_review.models import FileVersion, ReleasedFile, Release
from egress_review.quarantine.intake import check_content, check_name
from egress_review.quarantine.store import StagedBlob
from egress_review.service import EgressService

_TABLES = (".csv", ".tsv", ".xlsx", ".parquet")


def _prepare(svc: EgressService, p: Principal, request_id: str, file_id: str) -> dict:
    with svc.read_sessions() as session:
        req = submission.get_request(session, request_id)
        from egress_review import permissions

        permissions.check_view_request(session, p, req)
        f = submission.get_file(req, file_id)
        submission.check_can_upload(session, p, req, f)
        released = session.execute(
            select(ReleasedFile.path).join(Release).where(Release.project == req.project)
        ).scalars()
        info = {
            "name": f.name,
            "sidecar": f.sidecar,
            "project": req.project,
            "identifiers": projects.identifier_values(session, req.project),
            "released": [Path(x) for x in released if x.lower().endswith(_TABLES) and Path(x).exists()],
        }
        session.rollback()
    return info


def _intake(svc: EgressService, staged: StagedBlob, info: dict, file_id: str) -> tuple[str, CheckInput]:
    """The gate (name, content by type) and the input for the automatic checks."""
    uploads = svc.policy.uploads
    kind = check_name(info["name"], uploads)
    check_content(staged.scratch, kind, uploads)
    sidecar_path = None
    if info["sidecar"]:
        fd, name = tempfile.mkstemp(dir=svc.store.scratch, suffix=".sidecar.json")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(svc.store.unseal(submission.sidecar_context(file_id), info["sidecar"]).decode())
        sidecar_path = Path(name)
    item = CheckInput(
        path=staged.scratch,
        declared_name=info["name"],
        sidecar=sidecar_path,
        identifier_values=info["identifiers"],
        released_tables=info["released"],
        policy=svc.disclosure_policy,
    )
    return kind, item


async def _check(svc: EgressService, item: CheckInput) -> CheckOutcome:
    try:
        if svc.checker is not None:
            # awaited, not waited for in a thread: a queue of uploads must not use up the threads
            # that every other request needs
            return await svc.checker.run_async(item)
        return await run_in_threadpool(run_checks, item, svc.policy.uploads.check_in_process_max_bytes)
    finally:
        if item.sidecar is not None:
            item.sidecar.unlink(missing_ok=True)


def _record(svc: EgressService, p: Principal, request_id: str, file_id: str, staged: StagedBlob,
            kind: str, outcome: CheckOutcome) -> tuple[str, str]:
    blob = svc.store.commit(staged)
    try:
        with svc.sessions() as session:
            req = submission.get_request(session, request_id)
            f = submission.get_file(req, file_id)
            version = submission.add_version(
                session, svc.audit, p, req, f, staged=staged, blob=blob, detected_type=kind, outcome=outcome
            )
            session.commit()
            return f.id, version.id
    except BaseException:
        # The row never committed: the blob is an orphan, remove it now (sweep would later).
        svc.store.discard(staged, blob)
        raise


async def receive_file(
    svc: EgressService, p: Principal, request_id: str, file_id: str, body: AsyncIterator[bytes]
) -> tuple[str, str]:
    info = await run_in_threadpool(_prepare, svc, p, request_id, file_id)
    staged = await svc.store.receive(body, svc.policy.uploads.max_file_bytes, Path(info["name"]).suffix.lower())
    try:
        kind, item = await run_in_threadpool(_intake, svc, staged, info, file_id)
        outcome = await _check(svc, item)
        svc.store.drop_scratch(staged)
        result = await run_in_threadpool(_record, svc, p, request_id, file_id, staged, kind, outcome)
        svc.metrics.uploads.labels(outcome.verdict).inc()
        return result
    except BaseException:
        svc.store.discard(staged)
        raise
    finally:
        svc.store.drop_scratch(staged)


