"""The master key and key wrapping, shared by provisioning (per-project pseudonymisation keys) and
egress_review (per-file data keys). The master key never lives in the repository: it comes from
``SANDKASSE_MASTER_KEY`` (base64) or the file named by ``SANDKASSE_MASTER_KEY_FILE``."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sandkasse.settings import Settings, get_settings

KEY_BYTES = 32
_NONCE = 12


class MasterKeyError(RuntimeError):
    """No usable master key."""


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise MasterKeyError("master key is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"master key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def write_key_file(path: Path) -> bytes:
    """Create a new random key file readable only by its owner."""
    key = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(encode_key(key) + "\n")
    return key


def load_master_key(settings: Settings | None = None) -> bytes:
    settings = settings or get_settings()
    if settings.master_key:
        return decode_key(settings.master_key)
    if settings.master_key_file:
        try:
            return decode_key(settings.master_key_file.read_text())
        except FileNotFoundError as exc:
            raise MasterKeyError(f"master key file {settings.master_key_file} does not exist") from exc
    raise MasterKeyError("no master key: set SANDKASSE_MASTER_KEY or SANDKASSE_MASTER_KEY_FILE")


def wrap_key(master: bytes, key: bytes, context: str) -> bytes:
    """Encrypt ``key`` under ``master`` (AES-256-GCM); ``context`` is bound as associated data so a
    wrapped key cannot be moved to another project or file."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master).encrypt(nonce, key, context.encode())


def unwrap_key(master: bytes, wrapped: bytes, context: str) -> bytes:
    return AESGCM(master).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], context.encode())
