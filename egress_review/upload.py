"""Receiving one file into quarantine, start to finish: permission and state are checked before a
byte is read; the bytes are streamed (encrypted, size-capped, hashed); the content is checked against
its declared type; the blob is made durable; and only then the version row (verdict ``pending``) and
its audit event are committed. Any refusal leaves nothing stored. The automatic disclosure checks
follow beside the API (:mod:`egress_review.checking`), so a queue of uploads never waits on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from egress_review import bounded, permissions, submission
from egress_review.autocheck import PENDING, CheckOutcome
from egress_review.identity.principal import Principal
from egress_review.quarantine import canonical
from egress_review.quarantine.intake import IntakeError, check_content, check_name
from egress_review.quarantine.store import StagedBlob
from egress_review.service import EgressService
from egress_review.states import FileKind

NOT_YET_CHECKED = CheckOutcome(PENDING, {"verdict": PENDING, "flags": [], "unverifiable": []})


def _prepare(svc: EgressService, p: Principal, request_id: str, file_id: str) -> tuple[str, str]:
    with svc.read_sessions() as session:
        req = submission.get_request(session, request_id)
        permissions.check_view_request(session, p, req)
        f = submission.get_file(req, file_id)
        submission.check_can_upload(session, p, req, f)
        name, file_kind = f.name, f.kind
        session.rollback()
    return name, file_kind


def _intake(svc: EgressService, staged: StagedBlob, name: str, file_kind: str) -> str:
    """The gate: the name, and the content by its declared type; returns the detected type."""
    uploads = svc.policy.uploads
    kind = check_name(name, uploads)
    check_content(staged.scratch, kind, uploads)
    if kind == "pdf" and file_kind == FileKind.OUTPUT and uploads.pdf_outputs == "refuse":
        raise IntakeError("a PDF cannot be rebuilt from its content for release, so it cannot be an output: "
                          "export the tables or figures in it as CSV/XLSX/PNG instead", status=415)
    if kind == "ipynb" and file_kind == FileKind.OUTPUT:
        raise IntakeError("a notebook never leaves: attach it as a supporting file (request_export does) and "
                          "export the tables or figures it makes", status=415)
    return kind


# Types whose content can expand far beyond their size on disk: rebuilt in a memory-capped worker.
_EXPANDING = frozenset({"xlsx", "parquet", "png"})
_IN_PROCESS_MAX_BYTES = 1024 * 1024


def _rebuild(svc: EgressService, staged: StagedBlob, kind: str) -> StagedBlob:
    """The stored version is the canonical rebuild of what was received (:mod:`egress_review.quarantine.canonical`):
    the checks, the previews and the checkers see it, and a release ships exactly it."""
    if kind in canonical.KEPT_AS_UPLOADED:
        return staged
    target = staged.scratch.with_name(staged.scratch.stem + ".canonical" + staged.scratch.suffix)
    try:
        # small text files are rebuilt in process (fast); anything that can grow in memory is not
        if kind in _EXPANDING or staged.size > _IN_PROCESS_MAX_BYTES:
            try:
                bounded.pool(svc.policy.uploads.parse_memory_bytes).run(canonical.rebuild_file, kind, staged.scratch, target)
            except bounded.OverMemoryLimit as exc:
                raise IntakeError(f"the file is too large to rebuild for review ({exc})", status=413) from exc
        else:
            canonical.rebuild_file(kind, staged.scratch, target)
        if target.stat().st_size > svc.policy.uploads.max_file_bytes:
            raise IntakeError(f"the file, rebuilt, is larger than the limit of {svc.policy.uploads.max_file_bytes} bytes",
                              status=413)
        return svc.store.restage(staged, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


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
    name, file_kind = await run_in_threadpool(_prepare, svc, p, request_id, file_id)
    staged = await svc.store.receive(body, svc.policy.uploads.max_file_bytes, Path(name).suffix.lower())
    try:
        kind = await run_in_threadpool(_intake, svc, staged, name, file_kind)
        staged = await run_in_threadpool(_rebuild, svc, staged, kind)
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
