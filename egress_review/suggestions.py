"""Return with the suggested table: the automatic checks' safe version of a failing table (cells
suppressed, counts rounded) goes back to the researcher with the returned request, so that they need
not rebuild it from a checker's comment.

Two-person rule: a checker's vote only *asks* for it (``Vote.attach_suggestion``). The suggestion is
attached when the request is returned and every vote on the file's current version (at least
``required_approvals`` of them, cast blind) asks for it; one checker alone attaches nothing.

The attached snapshot quotes cell values, so it is sealed like the check report and read only where
:func:`egress_review.permissions.may_read_content` allows (the reviewing checkers, and the project's
researchers from inside the sandbox with the project token); outside, the researcher sees that it is
there (name, version, size, hash), never its cells.
"""

from __future__ import annotations

import csv
import hashlib
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.audit import Actor, AuditLog
from egress_review.errors import InvalidInput, NotFound
from egress_review.identity.principal import Principal
from egress_review.models import FileVersion, ReleaseRequest, RequestFile, ReturnSuggestion
from egress_review.policy import EgressPolicy
from egress_review.states import FileDecision, FileKind, VoteDecision

# The comment a one-click return leaves for the researcher (shared: it is what they must do).
RETURN_COMMENT = ("The automatic checks' suggested table is attached: it suppresses or rounds the cells that "
                  "fail. Read it in your notebook (egress_review.client.suggestions), check it and resubmit.")


def _context(suggestion_id: str) -> str:
    return f"suggestion:{suggestion_id}"


def suggested_csv(session: Session, v: FileVersion | None) -> str | None:
    """The automatic checks' safe version of ``v`` (from its sealed report), or None."""
    if v is None:
        return None
    from egress_review.api.views import check_report  # api.views imports the review layer

    text = check_report(session, v, cells=False).get("suggested_csv")
    return str(text) if text else None


def check_attachable(session: Session, f: RequestFile, decision: VoteDecision) -> None:
    """A vote may ask for the suggestion only when it asks for changes and there is one."""
    if decision is not VoteDecision.CHANGES_REQUESTED:
        raise InvalidInput("only a vote requesting changes returns the suggested table")
    if suggested_csv(session, f.current_version) is None:
        raise InvalidInput(f"the automatic checks suggest no safe version of {f.name}")


def _blank_cells(text: str) -> int:
    rows = list(csv.reader(io.StringIO(text)))
    return sum(1 for r in rows[1:] for c in r[1:] if not c.strip())


def attach_agreed(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal,
                  req: ReleaseRequest) -> list[ReturnSuggestion]:
    """On return: attach each file's suggestion that every (and enough) checker asked for."""
    from egress_review.review import checker, current_votes, decide_file

    store = session.info["egress_store"]
    out = []
    for f in req.files:
        if f.kind != FileKind.OUTPUT or f.withdrawn or f.current_version is None:
            continue
        votes = current_votes(f)
        agreed = (decide_file(f, policy.review.required_approvals) is FileDecision.CHANGES_REQUESTED
                  and all(v.attach_suggestion for v in votes)
                  and len({v.reviewer for v in votes}) >= policy.review.required_approvals)
        text = suggested_csv(session, f.current_version) if agreed else None
        if text is None:
            continue
        data = text.encode()
        s = ReturnSuggestion(request_id=req.id, file_id=f.id, version_id=f.current_version_id, turn=req.turn,
                             sha256=hashlib.sha256(data).hexdigest(), size=len(data), blank_cells=_blank_cells(text),
                             csv_sealed="")
        session.add(s)
        session.flush()  # the id names the sealing context
        s.csv_sealed = store.seal(_context(s.id), data)
        audit.record(session, checker(p), "request.suggestion_attached", "release_request", req.id,
                     {"file": f.id, "name": f.name, "version": f.current_version_id, "sha256": s.sha256,
                      "asked_by": sorted(v.reviewer for v in votes)})
        out.append(s)
    session.flush()
    return out


def of_request(session: Session, req: ReleaseRequest) -> list[ReturnSuggestion]:
    """Every suggestion attached to ``req`` (metadata; any viewer of the request may list them)."""
    return list(session.execute(
        select(ReturnSuggestion).where(ReturnSuggestion.request_id == req.id).order_by(ReturnSuggestion.created_at)
    ).scalars())


def latest_for_file(session: Session, req: ReleaseRequest, file_id: str) -> ReturnSuggestion:
    found = [s for s in of_request(session, req) if s.file_id == file_id]
    if not found:
        raise NotFound("no suggested table is attached to this file")
    return found[-1]


def read(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest,
         s: ReturnSuggestion, role: str) -> bytes:
    """The suggestion's content, for whoever may read the request's content (checked here)."""
    from egress_review import permissions

    permissions.check_may_read_content(session, p, req, policy)
    audit.record(session, Actor(p.username, role, p.source), "file.suggestion_read", "request_file", s.file_id,
                 {"request": req.id, "suggestion": s.id, "version": s.version_id})
    return session.info["egress_store"].unseal(_context(s.id), s.csv_sealed)
