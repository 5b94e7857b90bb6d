"""The researcher's side of a release request: create it, describe and upload files, submit,
withdraw. Each function checks permission and state first, then changes rows and writes the audit
event in the caller's transaction (the API commits it as one unit)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from egress_review import permissions, transition
from egress_review.audit import Actor, AuditLog
from egress_review.db import WRITER
from egress_review.autocheck import CheckOutcome
from egress_review.errors import Conflict, InvalidInput, NotFound
from egress_review.identity.principal import Principal
from egress_review.models import FileVersion, ReleaseRequest, RequestFile, Vote, new_id
from egress_review.policy import EgressPolicy
from egress_review.quarantine.intake import check_name
from egress_review.records import acro_results
from egress_review.quarantine.intake import IntakeError
from egress_review.quarantine.store import StagedBlob
from egress_review.states import EDITABLE_STATES, Action, FileDecision, FileKind, RequestState
from sandkasse.audit import utcnow


def researcher(p: Principal) -> Actor:
    return Actor(p.username, "researcher", p.source)


def get_request(session: Session, request_id: str) -> ReleaseRequest:
    """The request; in a writer session its row is locked first (lock order: request, then audit head)."""
    query = select(ReleaseRequest).where(ReleaseRequest.id == request_id)
    if session.info.get(WRITER):
        query = query.with_for_update()
    req = session.execute(query).scalar_one_or_none()
    if req is None:
        raise NotFound("no such release request")
    return req


def get_file(req: ReleaseRequest, file_id: str) -> RequestFile:
    for f in req.files:
        if f.id == file_id:
            return f
    raise NotFound("no such file in this request")


def _check_editable(req: ReleaseRequest) -> None:
    if RequestState(req.state) not in EDITABLE_STATES:
        raise Conflict(f"the request is {req.state}; files can only change while it is draft or returned")


def _check_text(label: str, text: str, policy: EgressPolicy, *, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise InvalidInput(f"{label} is required")
    if len(text) > policy.uploads.max_text_chars:
        raise InvalidInput(f"{label} is longer than {policy.uploads.max_text_chars} characters")
    return text


def _check_sidecar(sidecar: dict[str, Any] | None, policy: EgressPolicy, file_id: str, session: Session) -> str | None:
    if sidecar is None:
        return None
    text = json.dumps(sidecar, sort_keys=True)
    if len(text.encode()) > policy.uploads.max_json_bytes:
        raise InvalidInput("the sidecar is larger than the JSON limit")
    # Sidecars hold per-cell counts: sealed like the files (the store is on the session, see db.sessions).
    return session.info["egress_store"].seal(sidecar_context(file_id), text.encode())


def sidecar_context(file_id: str) -> str:
    return f"sidecar:{file_id}"


def report_context(version_id: str) -> str:
    return f"report:{version_id}"


def cells_context(version_id: str) -> str:
    return f"cells:{version_id}"


CELLS_KEY = "cell_outcome"


def seal_report(store, version_id: str, report: dict[str, Any]) -> tuple[str, str | None]:
    """The check report sealed in two parts: everything but the per-cell outcomes, and those."""
    cells = report.get(CELLS_KEY)
    rest = {k: v for k, v in report.items() if k != CELLS_KEY}
    sealed = store.seal(report_context(version_id), json.dumps(rest, sort_keys=True, default=str).encode())
    sealed_cells = None if cells is None else store.seal(cells_context(version_id), json.dumps(cells).encode())
    return sealed, sealed_cells


def create_request(
    session: Session, audit: AuditLog, p: Principal, *, title: str = "", idempotency_key: str | None = None
) -> ReleaseRequest:
    project = permissions.check_create_request(session, p)
    if idempotency_key is not None:
        existing = session.execute(
            select(ReleaseRequest).where(
                ReleaseRequest.requester == p.username, ReleaseRequest.idempotency_key == idempotency_key
            )
        ).scalar_one_or_none()
        if existing is not None:
            raise Conflict("this request was already created (Idempotency-Key replayed)", request_id=existing.id)
    req = ReleaseRequest(project=project, requester=p.username, title=title.strip(), idempotency_key=idempotency_key)
    session.add(req)
    session.flush()
    audit.record(session, researcher(p), "request.create", "release_request", req.id, {"project": project})
    return req


def add_file(
    session: Session,
    audit: AuditLog,
    policy: EgressPolicy,
    p: Principal,
    req: ReleaseRequest,
    *,
    name: str,
    kind: FileKind,
    context: str,
    controls: str,
    sidecar: dict[str, Any] | None = None,
) -> RequestFile:
    permissions.check_upload(session, p, req)
    _check_editable(req)
    try:
        check_name(name, policy.uploads)
    except IntakeError as exc:
        raise InvalidInput(str(exc)) from exc
    if FileKind(kind) == FileKind.OUTPUT and acro_results.is_reserved(name):
        raise Conflict(f"{name!r} is the name of the release's own ACRO record; rename the output")
    if any(f.name == name for f in req.files):
        raise Conflict(f"the request already has a file named {name!r}; upload a new version of it instead")
    if len(req.files) >= policy.uploads.max_files_per_request:
        raise InvalidInput(f"a request holds at most {policy.uploads.max_files_per_request} files")
    file_id = new_id()
    f = RequestFile(
        id=file_id,
        request_id=req.id,
        name=name,
        kind=FileKind(kind).value,
        context=_check_text("context", context, policy, required=False),
        controls=_check_text("controls", controls, policy, required=False),
        sidecar=_check_sidecar(sidecar, policy, file_id, session),
    )
    req.files.append(f)
    req.updated_at = utcnow()
    session.flush()
    audit.record(session, researcher(p), "file.add", "request_file", f.id, {"request": req.id, "name": name, "kind": f.kind})
    return f


def describe_file(
    session: Session,
    audit: AuditLog,
    policy: EgressPolicy,
    p: Principal,
    req: ReleaseRequest,
    f: RequestFile,
    *,
    context: str | None = None,
    controls: str | None = None,
    sidecar: dict[str, Any] | None = None,
) -> RequestFile:
    permissions.check_edit_request(session, p, req)
    _check_editable(req)
    changed = []
    if context is not None:
        f.context = _check_text("context", context, policy, required=False)
        changed.append("context")
    if controls is not None:
        f.controls = _check_text("controls", controls, policy, required=False)
        changed.append("controls")
    if sidecar is not None:
        f.sidecar = _check_sidecar(sidecar, policy, f.id, session)
        changed.append("sidecar")
    req.updated_at = utcnow()
    audit.record(session, researcher(p), "file.describe", "request_file", f.id, {"request": req.id, "changed": changed})
    return f


def check_can_upload(session: Session, p: Principal, req: ReleaseRequest, f: RequestFile) -> None:
    """Everything that can be refused before a byte is read."""
    permissions.check_upload(session, p, req)
    _check_editable(req)
    if f.withdrawn:
        raise Conflict("this file was withdrawn")


def _sidecar_for_rebuilt(session: Session, f: RequestFile, staged: StagedBlob) -> str | None:
    """The file's sidecar for this version. A sidecar names the SHA-256 of the file its writer saved;
    the service stores that file's canonical rebuild instead, so a sidecar naming the received bytes
    is carried over to the rebuilt ones (any other hash is left for the checks to judge)."""
    if not f.sidecar or not staged.uploaded_sha256 or staged.uploaded_sha256 == staged.sha256:
        return f.sidecar
    store = session.info["egress_store"]
    try:
        doc = json.loads(store.unseal(sidecar_context(f.id), f.sidecar))
    except ValueError:
        return f.sidecar
    if not isinstance(doc, dict) or doc.get("sha256") != staged.uploaded_sha256:
        return f.sidecar
    doc["sha256"] = staged.sha256
    return store.seal(sidecar_context(f.id), json.dumps(doc, sort_keys=True).encode())


def add_version(
    session: Session,
    audit: AuditLog,
    p: Principal,
    req: ReleaseRequest,
    f: RequestFile,
    *,
    staged: StagedBlob,
    blob: str,
    detected_type: str,
    outcome: CheckOutcome,
) -> FileVersion:
    """Record an uploaded (already durable) blob as the file's new, immutable version. When the
    request was returned, the checkers' votes on the old version no longer apply: they are reset."""
    check_can_upload(session, p, req, f)
    number = (session.execute(select(func.max(FileVersion.number)).where(FileVersion.file_id == f.id)).scalar() or 0) + 1
    version = FileVersion(
        id=staged.version_id,
        file_id=f.id,
        number=number,
        size=staged.size,
        sha256=staged.sha256,
        detected_type=detected_type,
        blob=blob,
        wrapped_key=staged.wrapped_key,
        sidecar=_sidecar_for_rebuilt(session, f, staged),
        verdict=outcome.verdict,
        check_report=outcome.redacted_json,
        check_report_sealed=seal_report(session.info["egress_store"], staged.version_id, outcome.report)[0],
        uploaded_by=p.username,
    )
    session.add(version)
    f.current_version_id = version.id
    f.version_turn = req.turn + 1
    reset = session.execute(delete(Vote).where(Vote.file_id == f.id)).rowcount
    f.decision = FileDecision.PENDING.value
    req.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        researcher(p),
        "file.upload",
        "file_version",
        version.id,
        {
            "request": req.id,
            "file": f.id,
            "name": f.name,
            "number": number,
            "sha256": staged.sha256,
            "uploaded_sha256": staged.uploaded_sha256 or staged.sha256,
            "size": staged.size,
            "verdict": outcome.verdict,
            "votes_reset": reset,
        },
    )
    return version


def withdraw_file(session: Session, audit: AuditLog, p: Principal, req: ReleaseRequest, f: RequestFile) -> None:
    permissions.check_edit_request(session, p, req)
    _check_editable(req)
    if f.withdrawn:
        raise Conflict("this file is already withdrawn")
    f.withdrawn = True
    f.decision = FileDecision.WITHDRAWN.value
    req.updated_at = utcnow()
    audit.record(session, researcher(p), "file.withdraw", "request_file", f.id, {"request": req.id, "name": f.name})


def submit(session: Session, audit: AuditLog, p: Principal, req: ReleaseRequest) -> RequestState:
    """Send the request to the checkers (first time) or back to them (after it was returned)."""
    permissions.check_edit_request(session, p, req)
    action = Action.RESUBMIT if req.state == RequestState.RETURNED else Action.SUBMIT
    from egress_review.states import check_transition

    check_transition(RequestState(req.state), action)
    live = [f for f in req.files if not f.withdrawn]
    if not any(f.kind == FileKind.OUTPUT for f in live):
        raise InvalidInput("a request needs at least one output file")
    problems = []
    for f in live:
        if f.current_version_id is None:
            problems.append(f"{f.name}: no content uploaded")
        if not f.context.strip():
            problems.append(f"{f.name}: context is required (what is this output?)")
        if not f.controls.strip():
            problems.append(f"{f.name}: controls are required (what was done to make it safe?)")
    if problems:
        raise InvalidInput("the request is not complete: " + "; ".join(problems), problems=problems)
    req.turn += 1
    return transition.apply(
        session, audit, req, action, researcher(p), {"turn": req.turn, "files": [f.name for f in live]}
    )


def withdraw_request(session: Session, audit: AuditLog, p: Principal, req: ReleaseRequest) -> RequestState:
    permissions.check_edit_request(session, p, req)
    return transition.apply(session, audit, req, Action.WITHDRAW, researcher(p))
