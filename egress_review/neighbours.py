"""The unreleased tables a new output is compared with for differencing, besides earlier releases.

Two tables that leave together (in one request, or in two requests under review at the same time)
can be subtracted just like a new table and an old release. So every tabular output of the project
that may still leave is a neighbour: the other outputs of the same request, and the outputs of the
project's other requests that are neither released (those are compared as releases) nor finished
without release (rejected, withdrawn). Drafts count too: a draft submitted later would otherwise
meet a table that was checked before it existed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.models import FileVersion, ReleaseRequest, RequestFile
from egress_review.quarantine.store import QuarantineStore
from egress_review.states import FileKind, RequestState

TABLES = (".csv", ".tsv", ".xlsx", ".parquet")
MAY_STILL_LEAVE = (RequestState.DRAFT, RequestState.SUBMITTED, RequestState.REVIEWED, RequestState.APPROVED,
                   RequestState.RETURNED)
# Bounds the work per check (each neighbour is decrypted and parsed); the newest are kept.
MAX_NEIGHBOURS = 50


@dataclass(frozen=True)
class Neighbour:
    name: str
    where: str
    version_id: str
    blob: str
    wrapped_key: bytes


def unreleased_neighbours(session: Session, file_id: str, request_id: str, project: str,
                          max_bytes: int) -> tuple[Neighbour, ...]:
    rows = session.execute(
        select(RequestFile.name, RequestFile.request_id, ReleaseRequest.state, FileVersion.id, FileVersion.blob,
               FileVersion.wrapped_key)
        .join(ReleaseRequest, RequestFile.request_id == ReleaseRequest.id)
        .join(FileVersion, FileVersion.id == RequestFile.current_version_id)
        .where(ReleaseRequest.project == project, ReleaseRequest.state.in_([s.value for s in MAY_STILL_LEAVE]),
               RequestFile.id != file_id, RequestFile.kind == FileKind.OUTPUT.value, RequestFile.withdrawn.is_(False),
               FileVersion.size <= max_bytes)
        .order_by(FileVersion.created_at.desc())
    ).all()
    out = []
    for name, rid, state, version_id, blob, wrapped_key in rows:
        if not name.lower().endswith(TABLES):
            continue
        where = ("another output of this request" if rid == request_id
                 else f"request {rid[:8]}, {state}, not released")
        out.append(Neighbour(name, where, version_id, blob, wrapped_key))
        if len(out) >= MAX_NEIGHBOURS:
            break
    return tuple(out)


def decrypt_neighbours(store: QuarantineStore, neighbours: tuple[Neighbour, ...]) -> list[tuple[str, str, Path]]:
    """Private scratch copies (name, where, path); the caller removes them after the check."""
    out = []
    for n in neighbours:
        path = store.scratch / f"{n.version_id}-{uuid.uuid4().hex}{Path(n.name).suffix.lower()}"
        store.decrypt_to(n.blob, n.version_id, n.wrapped_key, path)
        out.append((n.name, n.where, path))
    return out
