"""Which notebook a request carries, whether its re-execution holds up review, and what checkers see.

A request's notebook is its newest live supporting file whose current version is a notebook
(``ipynb``). With ``notebooks.reexecute`` on, each turn of a submitted request that carries one gets
one :class:`~egress_review.notebooks.models.NotebookRun`; votes wait until it has run
(:func:`reexecution_pending`, asked by :func:`egress_review.review.vote`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.models import FileVersion, ReleaseRequest, RequestFile
from egress_review.notebooks.models import DONE, FAILED, PENDING, NotebookRun
from egress_review.policy import EgressPolicy
from egress_review.states import VOTING_STATES, FileKind, RequestState


def notebook_of(req: ReleaseRequest) -> tuple[RequestFile, FileVersion] | None:
    found = [(f, f.current_version) for f in req.files
             if f.kind == FileKind.SUPPORTING and not f.withdrawn and f.current_version is not None
             and f.current_version.detected_type == "ipynb"]
    return max(found, key=lambda fv: fv[1].created_at) if found else None


def run_of(session: Session, req: ReleaseRequest) -> NotebookRun | None:
    return session.execute(
        select(NotebookRun).where(NotebookRun.request_id == req.id, NotebookRun.turn == req.turn)
    ).scalar_one_or_none()


def reexecution_pending(session: Session, policy: EgressPolicy, req: ReleaseRequest) -> bool:
    """The policy asks for a re-run of the request's notebook and it has not finished for this turn."""
    if not policy.notebooks.reexecute or notebook_of(req) is None:
        return False
    run = run_of(session, req)
    return run is None or run.status == PENDING


def reason_context(run_id: str) -> str:
    return f"reexecution:{run_id}"


@dataclass(frozen=True)
class RunNote:
    """What the request page shows beside one output."""

    status: str  # pending | matches | mismatch | missing | failed | absent (no notebook came with it)
    reason: str | None = None  # only for those who may read content (it may quote the notebook's output)


def _reproduced(session: Session, f: RequestFile) -> bool:
    """The output is a table the check worker made again from the data (its sidecar's replay)."""
    from egress_review.api.views import check_report  # api.views imports the review layer

    v = f.current_version
    return v is not None and str(check_report(session, v, cells=False).get("replay") or "").startswith("reproduced")


def notes(session: Session, store, req: ReleaseRequest, can_read: bool,
          policy: EgressPolicy | None = None) -> dict[str, RunNote]:
    """Per output file id, the outcome of this turn's re-execution (empty: none asked for or made).
    With ``policy`` asking for re-runs, a request under review that carries no notebook says so beside
    each output the replay did not make again: leaving the notebook out (``notebook=False``, or the API
    directly) must not look like a request that needs no re-run."""
    run = run_of(session, req)
    if run is None:
        if (policy is None or not policy.notebooks.reexecute or notebook_of(req) is not None
                or RequestState(req.state) not in VOTING_STATES):
            return {}
        return {f.id: RunNote("absent") for f in req.files
                if f.kind == FileKind.OUTPUT and not f.withdrawn and not _reproduced(session, f)}
    reason = None
    if can_read and run.reason_sealed:
        reason = store.unseal(reason_context(run.id), run.reason_sealed).decode("utf-8", errors="replace")
    outputs = [f for f in req.files if f.kind == FileKind.OUTPUT and not f.withdrawn]
    if run.status == PENDING:
        return {f.id: RunNote("pending") for f in outputs}
    if run.status == FAILED:
        return {f.id: RunNote("failed", reason) for f in outputs}
    outcome = json.loads(run.outcome or "{}")
    assert run.status == DONE
    whys = json.loads(reason) if reason else {}  # per output: why it matches or not
    return {f.id: RunNote(str((outcome.get(f.id) or {}).get("status", "missing")),
                          whys.get(f.id) if isinstance(whys, dict) else None) for f in outputs}


def forget_reexecution_reasons(session: Session, project: str) -> None:
    """A closed project's failure texts go with its quarantined files (they may quote the notebook's output)."""
    for run in session.execute(
        select(NotebookRun).join(ReleaseRequest, ReleaseRequest.id == NotebookRun.request_id)
        .where(ReleaseRequest.project == project, NotebookRun.reason_sealed.is_not(None))
    ).scalars():
        run.reason_sealed = None
