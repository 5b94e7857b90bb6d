"""Open-data publication: the cell-key secret, derived from the TRE master key so it never leaves the TRE
and is the same for every publication (the same cell must get the same noise every time)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_CONTEXT = b"sandkasse publication cell-key v1"


def cell_key_secret(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(master)
