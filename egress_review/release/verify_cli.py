"""``sandkasse verify-release MANIFEST FILES...``: check a release manifest's Ed25519 signature with
the service's public key, and each file's SHA-256 against the manifest.

The public key is read from ``SANDKASSE_RELEASE_PUBLIC_KEY_FILE`` (default: the service's
``var/egress/keys/release-signing.pub.pem``; anyone can fetch it from ``GET /api/v1/release-key``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from egress_review.release.signing import ManifestInvalid, key_id, load_public_key, verify_document
from egress_review.settings import EgressSettings


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_release(manifest_path: Path, files: list[Path], public_key_path: Path) -> list[str]:
    """Problems found (empty when the release verifies)."""
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
        public = load_public_key(public_key_path.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"cannot read: {exc}"]
    try:
        manifest = verify_document(document, public)
    except ManifestInvalid as exc:
        return [str(exc)]
    if manifest.get("key_id") != key_id(public):
        return ["the manifest names another signing key"]
    # the release's own records (its ACRO results.json) are signed the same way, by their SHA-256
    listed = {e["name"]: e for e in [*manifest.get("files", []), *manifest.get("records", [])]}
    problems = []
    for path in files:
        entry = listed.get(path.name)
        if entry is None:
            problems.append(f"{path.name}: not in this release")
        elif not path.is_file():
            problems.append(f"{path}: no such file")
        elif _sha256(path) != entry["sha256"]:
            problems.append(f"{path.name}: SHA-256 differs from the manifest (changed)")
    return problems


def verify_release_command(manifest: str, files: list[str]) -> int:
    settings = EgressSettings()
    problems = verify_release(Path(manifest), [Path(f) for f in files], settings.public_key_path)
    if problems:
        for p in problems:
            print(f"FAILED: {p}", file=sys.stderr)
        return 1
    doc = json.loads(Path(manifest).read_text(encoding="utf-8"))["manifest"]
    print(f"OK: release {doc['release_id']} of project {doc['project']}, signed; "
          f"{len(files)} file(s) match ({', '.join(Path(f).name for f in files) or 'none given'}); "
          f"approved by {', '.join(doc.get('approvers', []))}")
    return 0
