"""Ed25519 signatures on release manifests (``cryptography``). The private key stays with the
service; the public key is published (``GET /api/v1/release-key``) so anyone can verify a release."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "sandkasse-release-manifest/1"


class ManifestInvalid(Exception):
    """The signature does not verify, or the document is not a signed manifest."""


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ManifestInvalid("the public key is not an Ed25519 key")
    return key


@dataclass
class ReleaseSigner:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @classmethod
    def load_or_create(cls, private_path: Path, public_path: Path) -> ReleaseSigner:
        if private_path.exists():
            key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{private_path} is not an Ed25519 private key")
        else:
            key = Ed25519PrivateKey.generate()
            private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            try:
                fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another worker created it first: use theirs
                return cls.load_or_create(private_path, public_path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        signer = cls(key)
        pub = public_pem(signer.public)
        if not public_path.exists() or public_path.read_bytes() != pub:
            public_path.parent.mkdir(parents=True, exist_ok=True)
            public_path.write_bytes(pub)
        return signer

    def sign(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The signed document: the manifest, the signature over its canonical JSON, the key id."""
        body = {**manifest, "format": FORMAT, "key_id": key_id(self.public)}
        signature = self.private.sign(canonical(body))
        return {"manifest": body, "signature": base64.b64encode(signature).decode()}


def verify_document(document: dict[str, Any], public: Ed25519PublicKey) -> dict[str, Any]:
    """The manifest when the signature verifies under ``public``; else :class:`ManifestInvalid`."""
    try:
        manifest = document["manifest"]
        signature = base64.b64decode(document["signature"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestInvalid("not a signed release manifest") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestInvalid("not a signed release manifest")
    try:
        public.verify(signature, canonical(manifest))
    except InvalidSignature as exc:
        raise ManifestInvalid("the manifest's signature does not verify (changed, or another key)") from exc
    return manifest
