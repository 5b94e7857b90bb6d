"""Receiving one file into quarantine, start to finish: permission and state are checked before a
byte is read; the bytes are streamed (encrypted, size-capped, hashed); the content is checked against
its declared type; the blob is made durable; and only then the version row (verdict ``pending``) and
its audit event are committed. Any refusal leaves nothing stored. The automatic disclosure checks
follow beside the API (:mod:`egress_review.checking`), so a queue of uploads never waits on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from egress_review import permissions, submission
from egress_review.autocheck import PENDING, CheckOutcome
from egress_review.identity.principal import Principal
from egress_review.quarantine.intake import check_content, check_name
from egress_review.quarantine.store import StagedBlob
from egress_review.service import EgressService

NOT_YET_CHECKED = CheckOutcome(PENDING, {"verdict": PENDING, "flags": [], "unverifiable": []})


def _prepare(svc: EgressService, p: Principal, request_id: str, file_id: str) -> str:
    with svc.read_sessions() as session:
        req = submission.get_request(session, request_id)
        permissions.check_view_request(session, p, req)
        f = submission.get_file(req, file_id)
        submission.check_can_upload(session, p, req, f)
        name = f.name
        session.rollback()
    return name


def _intake(svc: EgressService, staged: StagedBlob, name: str) -> str:
    """The gate: the name, and the content by its declared type; returns the detected type."""
    uploads = svc.policy.uploads
    kind = check_name(name, uploads)
    check_content(staged.scratch, kind, uploads)
    return kind


def _record(svc: EgressService, p: Principal, request_id: str, file_id: str, staged: StagedBlob,
            kind: str) -> tuple[str, str]:
    blob = svc.store.commit(staged)
    try:
        with svc.sessions() as session:
            req = submission.get_request(session, request_id)
            f = submission.get_file(req, file_id)
            version = submission.add_version(
                session, svc.audit, p, req, f, staged=staged, blob=blob, detected_type=kind, outcome=NOT_YET_CHECKED
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
    name = await run_in_threadpool(_prepare, svc, p, request_id, file_id)
    staged = await svc.store.receive(body, svc.policy.uploads.max_file_bytes, Path(name).suffix.lower())
    try:
        kind = await run_in_threadpool(_intake, svc, staged, name)
        svc.store.drop_scratch(staged)
        result = await run_in_threadpool(_record, svc, p, request_id, file_id, staged, kind)
    except BaseException:
        svc.store.discard(staged)
        raise
    finally:
        svc.store.drop_scratch(staged)
    if svc.checks is not None:
        svc.checks.announce(result[1])
    return result
