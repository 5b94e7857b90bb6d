"""Quarantined copies of a closed project's unreleased files do not outlive the project.

Provisioning only records that a project closed; this service owns its quarantine, so a periodic
pass (started with the app, every ``closed_projects.sweep_seconds``) looks for projects that have
requests here and are closed in provisioning, and for each version that was not released (every
version of a request that never reached ``released``, supporting files, withdrawn or refused files,
older versions) either

* ``delete``: removes the blob and destroys its wrapped data key and sealed reports, so a backup copy
  of the blob cannot be decrypted either, or
* ``archive``: moves the still encrypted blob under ``<quarantine>/archive/<project>/``, keys kept,

as ``policies/egress.yaml`` says, with one audit event per project. Released versions stay (the
release area and its manifest refer to them). A pass is idempotent: a purged version has no blob
left in the quarantine.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.audit import SYSTEM
from egress_review.models import FileVersion, ReleaseRequest, RequestFile, ReturnSuggestion
from egress_review.notebooks.runs import forget_reexecution_reasons
from egress_review.service import EgressService
from egress_review.states import FileDecision, FileKind, RequestState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purge:
    project: str
    how: str
    versions: list[str]


def closed_projects(session: Session) -> list[str]:
    """Projects with requests here that provisioning reports closed (unknown projects are left)."""
    from provisioning import api

    slugs = session.execute(select(ReleaseRequest.project).distinct()).scalars()
    return sorted(s for s in slugs if (info := api.get_project(session, s)) is not None and info.status == "closed")


def _released(req: ReleaseRequest, f: RequestFile, v: FileVersion) -> bool:
    return (req.state == RequestState.RELEASED and f.kind == FileKind.OUTPUT and f.decision == FileDecision.APPROVED
            and not f.withdrawn and v.id == f.current_version_id)


def purge_project(svc: EgressService, session: Session, project: str) -> Purge | None:
    """Record the purge (and, for ``delete``, destroy the keys) in one commit, then move or remove
    the blobs: a crash in between leaves blobs in the quarantine, which the next pass finds again."""
    how = svc.policy.closed_projects.unreleased_files
    archive = svc.store.root / "archive" / project
    rows = session.execute(
        select(ReleaseRequest, RequestFile, FileVersion)
        .join(RequestFile, RequestFile.request_id == ReleaseRequest.id)
        .join(FileVersion, FileVersion.file_id == RequestFile.id)
        .where(ReleaseRequest.project == project)
    ).all()
    todo = [v for req, f, v in rows if not _released(req, f, v) and svc.store.blob_path(v.blob).exists()]
    if not todo:
        return None
    if how == "delete":
        for v in todo:  # without its key no copy of the blob (a backup) can be decrypted
            v.wrapped_key = b""
            v.sidecar = v.check_report_sealed = v.check_cells_sealed = None
        forget_reexecution_reasons(session, project)
        # the suggested tables attached on return quote the same cells
        for s in session.execute(select(ReturnSuggestion).where(
                ReturnSuggestion.version_id.in_([v.id for v in todo]))).scalars():
            s.csv_sealed = ""
    versions = sorted(v.id for v in todo)
    svc.audit.record(session, SYSTEM, f"project.quarantine_{'archived' if how == 'archive' else 'deleted'}", "project", project,
                     {"how": how, "versions": versions, "count": len(versions), **({"archive": str(archive)} if how == "archive" else {})})
    session.commit()
    for v in todo:
        blob = svc.store.blob_path(v.blob)
        if how == "archive":
            archive.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.move(str(blob), archive / v.blob)
        else:
            blob.unlink(missing_ok=True)
    return Purge(project, how, versions)


def purge_closed_projects(svc: EgressService) -> list[Purge]:
    out: list[Purge] = []
    with svc.sessions() as session:
        for project in closed_projects(session):
            purged = purge_project(svc, session, project)
            session.rollback()  # end the read transaction; each purge committed its own
            if purged:
                log.warning("closed project %s: %s %d unreleased quarantined versions", project, purged.how, len(purged.versions))
                out.append(purged)
    return out


async def closure_loop(svc: EgressService) -> None:
    while True:
        try:
            await asyncio.to_thread(purge_closed_projects, svc)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup: the next pass retries
            log.exception("purging closed projects' quarantine failed")
        await asyncio.sleep(svc.policy.closed_projects.sweep_seconds)
