"""The release signing key is never silently regenerated: once a key was published or a release
signed, a missing (or swapped) key stops releases with a clear 503, the request stays approved, no
new key appears, and ``sandkasse doctor`` says so. Restoring the key lets the release finish."""

from __future__ import annotations

import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from egress_review.api.deps import get_principal
from egress_review.app import create_app
from egress_review.release.signing import UnavailableSigner
from egress_review.service import build_service
from egress_review.states import RequestState
from sandkasse.doctor import check_release_signing_key
from tests.unit.egress.egress_factories import checker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("lose", ["private key", "whole keys folder"])
def test_a_lost_key_refuses_to_release_and_is_not_replaced(env, lose):
    env.make_request(RequestState.RELEASED)  # the installation has signed a release
    private, public = env.settings.signing_key_path, env.settings.public_key_path
    original = private.read_bytes()
    published = public.read_bytes()
    private.unlink() if lose == "private key" else shutil.rmtree(private.parent)
    assert check_release_signing_key(env.settings).ok is False
    assert "MISSING" in check_release_signing_key(env.settings).detail

    svc = build_service(env.settings, migrate=False)
    try:
        assert isinstance(svc.signer, UnavailableSigner), "the service must not make a new key"
        assert not private.exists()
        from egress_review import submission
        from egress_review.release.release import release
        from egress_review.release.signing import SigningKeyMissing

        req_id = env.make_request(RequestState.APPROVED)
        with svc.sessions() as s:
            with pytest.raises(SigningKeyMissing, match="missing: releases are refused"):
                release(s, svc.audit, svc.store, svc.signer, svc.release_dir, submission.get_request(s, req_id))
        assert env.get(req_id).state == RequestState.APPROVED, "still approved, waiting for the key"
        assert not private.exists()
    finally:
        svc.close()

    app = create_app(env.settings)  # start-up tries the pending release and leaves it waiting
    reviewed = env.make_request(RequestState.REVIEWED)
    with TestClient(app) as client:
        r = client.get("/api/v1/release-key")
        assert r.status_code == 503 and "signing key" in r.json()["error"]["message"], r.text
        app.dependency_overrides[get_principal] = lambda: checker("chris")
        r = client.post(f"/api/v1/requests/{reviewed}/approve", json={"comment": ""})
        assert r.status_code == 503 and "releases are refused" in r.json()["error"]["message"], r.text
    app.state.egress.close()
    assert env.get(req_id).state == RequestState.APPROVED and not private.exists()
    assert env.get(reviewed).state == RequestState.APPROVED, "the approval stands; the release waits for the key"

    private.parent.mkdir(parents=True, exist_ok=True)
    private.write_bytes(original)
    public.write_bytes(published)
    assert check_release_signing_key(env.settings).ok
    app = create_app(env.settings)  # with the key back, start-up finishes the release
    with TestClient(app):
        pass
    app.state.egress.close()
    assert env.get(req_id).state == RequestState.RELEASED and env.get(reviewed).state == RequestState.RELEASED


def test_a_swapped_key_is_refused(env):
    env.make_request(RequestState.RELEASED)
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    env.settings.signing_key_path.write_bytes(other)
    svc = build_service(env.settings, migrate=False)
    try:
        assert isinstance(svc.signer, UnavailableSigner)
        assert "not the key published" in svc.signer.reason
    finally:
        svc.close()
    assert not check_release_signing_key(env.settings).ok


def test_a_fresh_installation_creates_its_key_once(env):
    private = env.settings.signing_key_path
    assert private.exists() and check_release_signing_key(env.settings).ok  # made when the service first started
    before = private.read_bytes()
    svc = build_service(env.settings, migrate=False)
    svc.close()
    assert private.read_bytes() == before
