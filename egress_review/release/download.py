"""Handing out a released file, the same for the API and the web UI: the file must be in the release and
still on disk, every download is an audit event (who, which file, its hash), and the response is an
attachment that a browser does not sniff, carrying the hash the manifest signed."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.responses import FileResponse

from egress_review.audit import Actor, AuditLog
from egress_review.errors import NotFound
from egress_review.models import Release


def record_download(session: Session, audit: AuditLog, rel: Release, name: str, actor: Actor,
                    **detail: Any) -> tuple[Path, str]:
    """The path and SHA-256 of the released file ``name`` of ``rel``, its download recorded (the caller
    commits before it sends the file). ``detail`` adds to the event (e.g. the channel)."""
    entry = next((f for f in rel.files if f.name == name), None)
    if entry is None:
        raise NotFound("no such file in this release")
    path = Path(entry.path)
    if not path.is_file():
        raise NotFound("the released file is missing from the release area")
    audit.record(session, actor, "release.download", "release", rel.id,
                 {"name": name, "sha256": entry.sha256, "project": rel.project, **detail})
    return path, entry.sha256


def file_response(path: Path, name: str, sha256: str) -> FileResponse:
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                                 "X-Content-Type-Options": "nosniff", "X-Sandkasse-SHA256": sha256})
