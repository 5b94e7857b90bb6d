"""Ed25519 signatures on release manifests (``cryptography``). The private key stays with the
service; the public key is published (``GET /api/v1/release-key``) so anyone can verify a release."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from egress_review.errors import EgressError

FORMAT = "sandkasse-release-manifest/1"

log = logging.getLogger(__name__)


class SigningKeyMissing(EgressError):
    """Releasing needs the installation's signing key, and it is gone or replaced."""

    status = 503
    code = "signing_key_missing"


def _missing_message(private_path: Path) -> str:
    return (f"the release signing key {private_path} is missing: releases are refused (a new key would make "
            "earlier manifests unverifiable against the published key). Restore the key from backup "
            "(docs/deploy.md, \"Release signing key\"); `sandkasse doctor` reports its state")


class KeyState(StrEnum):
    PRESENT = "present"
    FRESH = "fresh"  # new installation: no key, never published, nothing released
    LOST = "lost"  # no private key, but one was published or used


def key_state(private_path: Path, public_path: Path, release_dir: Path) -> KeyState:
    if private_path.exists():
        return KeyState.PRESENT
    released = release_dir.is_dir() and any(release_dir.glob("*/*/manifest.json"))
    return KeyState.LOST if public_path.exists() or released else KeyState.FRESH


@dataclass
class UnavailableSigner:
    """Stands in for the signer when the key is lost: every use says so (HTTP 503 with the reason)."""

    reason: str

    @property
    def public(self) -> Ed25519PublicKey:
        raise SigningKeyMissing(self.reason)

    def sign(self, manifest: dict[str, Any]) -> dict[str, Any]:
        raise SigningKeyMissing(self.reason)


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
    def load(cls, private_path: Path, public_path: Path) -> ReleaseSigner:
        """The existing key; :class:`SigningKeyMissing` when it is gone or is not the published one."""
        if not private_path.exists():
            raise SigningKeyMissing(_missing_message(private_path))
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{private_path} is not an Ed25519 private key")
        signer = cls(key)
        pub = public_pem(signer.public)
        if public_path.exists() and public_path.read_bytes() != pub:
            raise SigningKeyMissing(
                f"the release signing key at {private_path} is not the key published at {public_path} "
                f"(key {key_id(signer.public)}): releases are refused until the original key is restored from "
                "backup, or the operator retires the old key on purpose (docs/deploy.md, \"Release signing key\")"
            )
        return signer

    def publish(self, public_path: Path) -> None:
        if not public_path.exists():
            public_path.parent.mkdir(parents=True, exist_ok=True)
            public_path.write_bytes(public_pem(self.public))

    @classmethod
    def create(cls, private_path: Path, public_path: Path) -> ReleaseSigner:
        """A new key for a new installation; never over an existing one."""
        key = Ed25519PrivateKey.generate()
        private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker created it first: use theirs
            return cls.load(private_path, public_path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        signer = cls.load(private_path, public_path)
        signer.publish(public_path)
        return signer

    @classmethod
    def for_service(cls, private_path: Path, public_path: Path, release_dir: Path) -> ReleaseSigner | UnavailableSigner:
        """The key the service signs with. Created only on a fresh installation (no key was ever
        published and nothing was ever released); a key lost later is never silently replaced:
        the service runs, refuses to release with a clear message, and ``sandkasse doctor`` says why."""
        state = key_state(private_path, public_path, release_dir)
        if state is KeyState.FRESH:
            log.warning("no release signing key yet: creating one at %s (new installation)", private_path)
            return cls.create(private_path, public_path)
        try:
            signer = cls.load(private_path, public_path)
            signer.publish(public_path)
            return signer
        except SigningKeyMissing as exc:
            log.error("%s", exc.message)
            return UnavailableSigner(exc.message)

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
