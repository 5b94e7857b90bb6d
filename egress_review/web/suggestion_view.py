"""What the request page shows of the suggested tables attached on return: metadata only (name,
version, size, hash, blank cells). The cells are read from inside the sandbox (``/api/v1/.../suggestion``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from egress_review import suggestions
from egress_review.models import ReleaseRequest


@dataclass
class AttachedRow:
    file_id: str
    name: str
    version: int
    turn: int
    size: int
    blank_cells: int
    sha256: str


def suggestion_rows(session: Session, req: ReleaseRequest) -> list[AttachedRow]:
    names = {f.id: f.name for f in req.files}
    numbers = {v.id: v.number for f in req.files for v in f.versions}
    return [AttachedRow(s.file_id, names.get(s.file_id, "?"), numbers.get(s.version_id, 0), s.turn, s.size,
                        s.blank_cells, s.sha256) for s in suggestions.of_request(session, req)]
