"""The quarantine store: encrypted, immutable blobs, written atomically.

An upload is streamed chunk by chunk into ``tmp/<id>.part`` (encrypted) and, for the checks only, a
private scratch copy; when the last byte is in, the part is fsynced and renamed to
``blobs/<id>.skq`` (then the folder is fsynced), and only after that the database row that makes it
a file version is committed. A crash at any point therefore leaves either nothing, a ``.part``, or a
blob no row points to; none of them counts as submitted and :meth:`QuarantineStore.sweep` removes them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from egress_review.quarantine.crypto import ChunkEncryptor, decrypt_chunks
from sandkasse.keys import generate_key, unwrap_key, wrap_key


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes")
        self.limit = limit


def _aad(version_id: str) -> bytes:
    return f"sandkasse-egress-file-version:{version_id}".encode()


def _key_context(version_id: str) -> str:
    return f"egress-file:{version_id}"


@dataclass
class StagedBlob:
    """An upload received completely but not yet part of the store."""

    version_id: str
    part: Path
    scratch: Path
    size: int
    sha256: str
    wrapped_key: bytes
    # the SHA-256 of the bytes as received, when the stored version is their canonical rebuild
    uploaded_sha256: str | None = None


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (the directory's own fsync); the release uses it too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class QuarantineStore:
    def __init__(self, root: Path, scratch: Path, master_key: bytes) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.scratch = scratch
        self._master = master_key
        for d in (self.blobs, self.tmp, self.scratch):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(d, 0o700)

    def blob_path(self, blob: str) -> Path:
        return self.blobs / blob

    async def receive(self, chunks: AsyncIterator[bytes], max_bytes: int, suffix: str = "") -> StagedBlob:
        """Stream ``chunks`` into an encrypted part file and a scratch copy, enforcing ``max_bytes``
        as the bytes arrive (so an over-cap upload is cut off, not buffered)."""
        version_id = uuid.uuid4().hex
        data_key = generate_key()
        part = self.tmp / f"{version_id}.part"
        # The scratch copy keeps the declared extension: some readers (openpyxl) go by it.
        scratch = self.scratch / f"{version_id}{suffix if suffix.isascii() and suffix[1:].isalnum() else ''}"
        digest = hashlib.sha256()
        size = 0
        try:
            with _private_open(part) as enc_out, _private_open(scratch) as plain_out:
                encryptor = ChunkEncryptor(data_key, _aad(version_id), enc_out)
                async for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    encryptor.update(chunk)
                    plain_out.write(chunk)
                encryptor.finish()
        except BaseException:
            part.unlink(missing_ok=True)
            scratch.unlink(missing_ok=True)
            raise
        return StagedBlob(
            version_id=version_id,
            part=part,
            scratch=scratch,
            size=size,
            sha256=digest.hexdigest(),
            wrapped_key=wrap_key(self._master, data_key, _key_context(version_id)),
        )

    def restage(self, staged: StagedBlob, plain: Path) -> StagedBlob:
        """Replace the staged content by ``plain`` (the upload's canonical rebuild, a file in the scratch
        folder): encrypted afresh under the same version id; the received bytes are discarded."""
        data_key = generate_key()
        part = self.tmp / f"{staged.version_id}.rebuilt.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with _private_open(part) as enc_out, plain.open("rb") as src:
                encryptor = ChunkEncryptor(data_key, _aad(staged.version_id), enc_out)
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    size += len(chunk)
                    digest.update(chunk)
                    encryptor.update(chunk)
                encryptor.finish()
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        staged.part.unlink(missing_ok=True)
        staged.scratch.unlink(missing_ok=True)
        return StagedBlob(
            version_id=staged.version_id, part=part, scratch=plain, size=size, sha256=digest.hexdigest(),
            wrapped_key=wrap_key(self._master, data_key, _key_context(staged.version_id)),
            uploaded_sha256=staged.sha256,
        )

    def commit(self, staged: StagedBlob) -> str:
        """Make the staged blob durable under its final name; returns the blob name for the row."""
        name = f"{staged.version_id}.skq"
        target = self.blobs / name
        if target.exists():  # versions are immutable: never overwrite
            raise FileExistsError(target)
        # fsync here, not while receiving: receive() runs on the event loop, commit() in a thread.
        fd = os.open(staged.part, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(staged.part, 0o400)
        os.rename(staged.part, target)
        fsync_dir(self.blobs)
        return name

    def discard(self, staged: StagedBlob, committed_blob: str | None = None) -> None:
        staged.part.unlink(missing_ok=True)
        staged.scratch.unlink(missing_ok=True)
        if committed_blob:
            (self.blobs / committed_blob).unlink(missing_ok=True)

    def drop_scratch(self, staged: StagedBlob) -> None:
        staged.scratch.unlink(missing_ok=True)

    def read(self, blob: str, version_id: str, wrapped_key: bytes) -> Iterator[bytes]:
        """The plaintext of a stored version, chunk by chunk, each authenticated."""
        key = unwrap_key(self._master, wrapped_key, _key_context(version_id))
        with (self.blobs / blob).open("rb") as fh:
            yield from decrypt_chunks(key, _aad(version_id), fh)

    def decrypt_to(self, blob: str, version_id: str, wrapped_key: bytes, target: Path) -> str:
        """Write the plaintext to ``target`` (mode 600); return its SHA-256."""
        digest = hashlib.sha256()
        with _private_open(target) as out:
            for chunk in self.read(blob, version_id, wrapped_key):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return digest.hexdigest()

    def seal(self, context: str, data: bytes) -> str:
        """Encrypt a small item that is derived from quarantined content (check reports, sidecars:
        they quote cell values) under its own data key wrapped by the master key."""
        key = generate_key()
        wrapped = wrap_key(self._master, key, f"egress-item:{context}")
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, data, context.encode())
        return base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped + nonce + sealed).decode()

    def unseal(self, context: str, token: str) -> bytes:
        raw = base64.b64decode(token)
        (n,) = struct.unpack(">H", raw[:2])
        wrapped, nonce, sealed = raw[2 : 2 + n], raw[2 + n : 14 + n], raw[14 + n :]
        key = unwrap_key(self._master, wrapped, f"egress-item:{context}")
        return AESGCM(key).decrypt(nonce, sealed, context.encode())

    def sweep(self, known_blobs: set[str], older_than_seconds: float = 3600) -> list[Path]:
        """Remove what a crash left behind: stale parts and scratch copies, and blobs no version row
        names (only when older than ``older_than_seconds``, so an upload in flight is left alone)."""
        removed: list[Path] = []
        cutoff = time.time() - older_than_seconds
        for folder, keep in ((self.tmp, set()), (self.scratch, set()), (self.blobs, known_blobs)):
            for path in folder.iterdir():
                if path.name in keep:
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed.append(path)
                except FileNotFoundError:
                    pass
        return removed


def _private_open(path: Path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")
