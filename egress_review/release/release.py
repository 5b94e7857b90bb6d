"""Releasing an approved request (a system step): decrypt each approved output into the release
area, check its SHA-256 against the one recorded at upload and that it is in the canonical form intake
rebuilt it to (:mod:`egress_review.quarantine.canonical`), sign a manifest, and record it. The bytes
that leave are therefore exactly the bytes the checks and the checkers saw, under the same hash.

Files are written under ``releases/.staging/<id>`` and the folder is renamed into
``releases/<project>/<id>`` before the database commit that makes the release visible, so a crash
leaves either the request ``approved`` (and :func:`release_pending` finishes it on restart) or a
complete release, never half a release.
"""

from __future__ import annotations

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
from egress_review.policy import UploadPolicy
from egress_review.dp_service.guarantee import manifest_entry
from egress_review.models import Release, ReleasedFile, ReleaseRequest
from egress_review.quarantine.store import QuarantineStore, fsync_dir
from egress_review.records import acro_results
from egress_review.release.signing import ReleaseSigner
from egress_review.review import current_votes
from egress_review.states import Action, FileDecision, FileKind, RequestState, check_transition
from sandkasse.audit import utcnow


log = logging.getLogger(__name__)


MANIFEST_NAME = "manifest.json"


class ReleaseFailed(Exception):
    pass


def _check_canonical(path: Path, kind: str, memory_bytes: int) -> None:
    """What leaves is the stored version, which intake rebuilt from its parsed content; a version that
    is not its own rebuild (stored before rebuilding, or by a bug) is refused rather than shipped."""
    from egress_review import bounded
    from egress_review.quarantine import canonical

    if kind in canonical.KEPT_AS_UPLOADED:
        return
    try:
        ok = bounded.pool(memory_bytes).run(_is_canonical_file, kind, path)
    except bounded.OverMemoryLimit as exc:
        raise ReleaseFailed(f"{path.name}: cannot confirm it is the reviewed canonical file ({exc})") from exc
    if not ok:
        raise ReleaseFailed(f"{path.name}: the stored version is not in its rebuilt (canonical) form; "
                            "the researcher must upload it again")


def _is_canonical_file(kind: str, path: Path) -> bool:
    from egress_review.quarantine import canonical

    return canonical.is_canonical(kind, path.read_bytes())


def _write_new(path: Path, text: str) -> None:
    # O_EXCL: the manifest never replaces a file of the release (an output cannot be named like it,
    # see intake.check_name; this holds even if that check were gone)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640), "w") as fh:
        fh.write(text)


def release(
    session: Session,
    audit: AuditLog,
    store: QuarantineStore,
    signer: ReleaseSigner,
    release_root: Path,
    req: ReleaseRequest,
    *,
    memory_bytes: int = UploadPolicy().parse_memory_bytes,
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
            _check_canonical(staging / f.name, version.detected_type, memory_bytes)
            size = version.size
            approvers = sorted(v.reviewer for v in current_votes(f))
            entries.append({"name": f.name, "sha256": sha, "size": size, "version": version.number, "approvers": approvers,
                            **manifest_entry(session, store, req.project, version)})
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
        _write_new(staging / MANIFEST_NAME, json.dumps(document, indent=2, sort_keys=True) + "\n")
        fsync_dir(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, final)
        fsync_dir(final.parent)
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
