"""Streaming authenticated encryption of quarantined files.

``cryptography``'s AES-GCM AEAD encrypts whole messages, so a file is cut into fixed-size chunks,
each sealed with AES-256-GCM under the file's own data key (the STREAM construction): the nonce is a
random per-file prefix + the chunk number + a "last chunk" flag, and the associated data names the
file version. Reordered, dropped, truncated or swapped chunks, or a blob moved to another version,
all fail authentication. Memory use is one chunk, whatever the file size.

Blob layout: ``MAGIC (4) | nonce prefix (7) | chunk size (4, big-endian) | sealed chunks...``
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SKQ1"
CHUNK = 64 * 1024
_TAG = 16
_PREFIX = 7
_HEADER = len(MAGIC) + _PREFIX + 4


class BlobCorrupt(Exception):
    """The blob is not one this service wrote, or it was changed."""


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class ChunkEncryptor:
    """Feed plaintext in any pieces; sealed chunks go to ``out``. Call :meth:`finish` exactly once."""

    def __init__(self, key: bytes, aad: bytes, out: BinaryIO, chunk_size: int = CHUNK) -> None:
        self._aead = AESGCM(key)
        self._aad = aad
        self._out = out
        self._chunk = chunk_size
        self._prefix = os.urandom(_PREFIX)
        self._buffer = bytearray()
        self._index = 0
        out.write(MAGIC + self._prefix + struct.pack(">I", chunk_size))

    def update(self, data: bytes) -> None:
        self._buffer += data
        # Keep at least one byte back: the last chunk is only known at finish().
        while len(self._buffer) > self._chunk:
            self._seal(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]

    def finish(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _seal(self, piece: bytes, last: bool) -> None:
        if self._index >= 2**32 - 1:
            raise ValueError("file too large for one blob")
        self._out.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), piece, self._aad))
        self._index += 1


def decrypt_chunks(key: bytes, aad: bytes, blob: BinaryIO) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk; every chunk is authenticated before it is yielded, and a
    blob that ends before its flagged last chunk raises :class:`BlobCorrupt`."""
    header = blob.read(_HEADER)
    if len(header) != _HEADER or header[:4] != MAGIC:
        raise BlobCorrupt("not a quarantine blob")
    prefix = header[4 : 4 + _PREFIX]
    (chunk_size,) = struct.unpack(">I", header[4 + _PREFIX :])
    aead = AESGCM(key)
    sealed_size = chunk_size + _TAG
    index = 0
    current = blob.read(sealed_size)
    while True:
        following = blob.read(sealed_size)
        last = not following
        try:
            plain = aead.decrypt(_nonce(prefix, index, last), current, aad)
        except InvalidTag as exc:
            raise BlobCorrupt(f"chunk {index} failed authentication (changed, truncated or moved)") from exc
        yield plain
        if last:
            return
        current, index = following, index + 1
