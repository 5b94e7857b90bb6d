"""Releasing an approved request (a system step): decrypt each approved output into the release
area, check its SHA-256 against the one recorded at upload, sign a manifest, and record it.

Files are written under ``releases/.staging/<id>`` and the folder is renamed into
``releases/<project>/<id>`` before the database commit that makes the release visible, so a crash
leaves either the request ``approved`` (and :func:`release_pending` finishes it on restart) or a
complete release, never half a release.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review import transition
from egress_review.audit import SYSTEM, AuditLog
from egress_review.models import Release, ReleasedFile, ReleaseRequest
from egress_review.quarantine.store import QuarantineStore
from egress_review.records import acro_results
from egress_review.release.signing import ReleaseSigner
from egress_review.review import current_votes
from egress_review.states import Action, FileDecision, FileKind, RequestState, check_transition
from sandkasse.audit import utcnow


log = logging.getLogger(__name__)


class ReleaseFailed(Exception):
    pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _strip_image_metadata(path: Path, sha: str, size: int) -> tuple[str, int]:
    """Released images leave without their metadata chunks (author, software, timestamps, GPS): the
    pixels the checkers approved, nothing else. The manifest names the bytes that actually leave."""
    with path.open("rb") as fh:
        if fh.read(len(PNG_MAGIC)) != PNG_MAGIC:
            return sha, size
    from egress_review.checks import strip_image_metadata

    clean = strip_image_metadata(path)
    path.write_bytes(clean)
    return hashlib.sha256(clean).hexdigest(), len(clean)


def release(
    session: Session,
    audit: AuditLog,
    store: QuarantineStore,
    signer: ReleaseSigner,
    release_root: Path,
    req: ReleaseRequest,
) -> Release:
    check_transition(RequestState(req.state), Action.RELEASE)
    files = [f for f in req.files if f.kind == FileKind.OUTPUT and f.decision == FileDecision.APPROVED and not f.withdrawn]
    if not files:
        raise ReleaseFailed("no approved output file to release")
    rel = Release(request_id=req.id, project=req.project, manifest="", signature="")
    session.add(rel)
    session.flush()
    staging = release_root / ".staging" / rel.id
    final = release_root / req.project / rel.id
    staging.mkdir(parents=True, exist_ok=True, mode=0o750)
    entries: list[dict[str, Any]] = []
    try:
        for f in files:
            version = f.current_version
            assert version is not None
            sha = store.decrypt_to(version.blob, version.id, version.wrapped_key, staging / f.name)
            if sha != version.sha256:
                raise ReleaseFailed(f"{f.name}: stored bytes do not match the SHA-256 recorded at upload")
            sha, size = _strip_image_metadata(staging / f.name, sha, version.size)
            approvers = sorted(v.reviewer for v in current_votes(f))
            entries.append({"name": f.name, "sha256": sha, "size": size, "version": version.number, "approvers": approvers})
            rel.files.append(
                ReleasedFile(
                    file_id=f.id, version_id=version.id, name=f.name, sha256=sha, size=size,
                    path=str(final / f.name),
                )
            )
        # ACRO's results.json, signed through its hash in the manifest (egress_review/records/acro_results.py).
        record = acro_results.write_results(staging, req, rel.id, files,
                                            {f.id: sorted(v.reviewer for v in current_votes(f)) for f in files})
        manifest = {
            "release_id": rel.id,
            "request_id": req.id,
            "project": req.project,
            "requester": req.requester,
            "released_at": utcnow().isoformat(),
            "files": entries,
            "approvers": sorted({a for e in entries for a in e["approvers"]}),
            "records": [record],
        }
        document = signer.sign(manifest)
        (staging / "manifest.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        _fsync_dir(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    rel.manifest = json.dumps(document["manifest"], sort_keys=True)
    rel.signature = document["signature"]
    transition.apply(session, audit, req, Action.RELEASE, SYSTEM, {"release": rel.id, "files": [e["name"] for e in entries]})
    return rel


def release_pending(sessions, audit: AuditLog, store: QuarantineStore, signer: ReleaseSigner, release_root: Path) -> list[str]:
    """Finish every request left ``approved`` (e.g. by a crash between approval and release)."""
    done = []
    with sessions() as session:
        ids = list(session.execute(select(ReleaseRequest.id).where(ReleaseRequest.state == RequestState.APPROVED)).scalars())
    for request_id in ids:
        try:
            with sessions() as session:
                req = session.execute(
                    select(ReleaseRequest).where(ReleaseRequest.id == request_id).with_for_update()
                ).scalar_one_or_none()
                if req is None or req.state != RequestState.APPROVED:
                    continue
                release(session, audit, store, signer, release_root, req)
                session.commit()
                done.append(request_id)
        except Exception:
            # e.g. another worker of the service released it first (unique release per request):
            # the request stays consistent either way; log and go on with the next one.
            log.exception("could not finish the release of request %s", request_id)
    return done


def signed_document(rel: Release) -> dict[str, Any]:
    return {"manifest": json.loads(rel.manifest), "signature": rel.signature}
