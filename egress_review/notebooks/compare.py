"""Is the file a re-run notebook made the file that was submitted?

The bytes the container handed back are treated as an upload: written to a fresh private scratch
file of the service's own (``O_EXCL``, never a path the container chose), checked against their
type (zip bombs, malformed content) and rebuilt the way intake rebuilt the submitted file, in a
memory-capped worker for types that can expand; then the two SHA-256 are compared."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from egress_review import bounded
from egress_review.quarantine import canonical
from egress_review.quarantine.intake import IntakeError, check_content

MATCHES = "matches"
MISMATCH = "mismatch"
MISSING = "missing"


def _fresh(scratch: Path, suffix: str, data: bytes) -> Path:
    path = scratch / f"reexec-{uuid.uuid4().hex}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def compare(svc, name: str, kind: str, stored_sha256: str, data: bytes | None) -> tuple[str, str]:
    """(status, why) of one output; ``why`` names no cell value."""
    if data is None:
        return MISSING, f"the re-run notebook did not export {name}"
    suffix = Path(name).suffix.lower()
    src = _fresh(svc.store.scratch, suffix if suffix[1:].isalnum() else "", data)
    target = src.with_name(src.stem + ".canonical" + src.suffix)
    try:
        try:
            check_content(src, kind, svc.policy.uploads)
            if kind in canonical.KEPT_AS_UPLOADED:
                made = data
            else:
                bounded.pool(svc.policy.uploads.parse_memory_bytes).run(canonical.rebuild_file, kind, src, target)
                made = target.read_bytes()
        except (IntakeError, bounded.OverMemoryLimit) as exc:
            return MISMATCH, f"the re-created {name} is not a valid {kind} file ({exc})"
        if hashlib.sha256(made).hexdigest() == stored_sha256:
            return MATCHES, f"the re-run notebook made {name} byte for byte"
        return MISMATCH, f"the re-created {name} differs from the submitted one ({len(made)} bytes against the stored version)"
    finally:
        src.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
