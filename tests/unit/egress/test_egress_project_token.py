"""The hub-issued project token (contract used by the hub: issue_project_token / verify_project_token)."""

from __future__ import annotations

import time

import jwt
import pytest

from egress_review.identity.project_token import (
    ProjectTokenError,
    issue_project_token,
    load_project_token_key,
    verify_project_token,
)

pytestmark = pytest.mark.unit

KEY = b"0123456789abcdef0123456789abcdef-hub"


def test_round_trip():
    token = issue_project_token("alice", "alpha", KEY, 60)
    p = verify_project_token(token, KEY)
    assert (p.username, p.project) == ("alice", "alpha")
    assert p.expires_at - time.time() <= 60 and p.token_id


def test_each_token_is_distinct():
    assert issue_project_token("alice", "alpha", KEY, 60) != issue_project_token("alice", "alpha", KEY, 60)


@pytest.mark.parametrize("mutate", ["expired", "wrong key", "alg none", "other audience", "no project", "bad slug"])
def test_refused(mutate):
    now = int(time.time())
    claims = {"iss": "sandkasse-hub", "aud": "sandkasse-egress-project", "sub": "alice", "project": "alpha",
              "iat": now, "exp": now + 60, "jti": "x"}
    key = KEY
    if mutate == "expired":
        claims.update(iat=now - 120, exp=now - 60)
    elif mutate == "wrong key":
        key = b"another-key-another-key-another-key!"
    elif mutate == "other audience":
        claims["aud"] = "sandkasse-egress"
    elif mutate == "no project":
        del claims["project"]
    elif mutate == "bad slug":
        claims["project"] = "../beta"
    if mutate == "alg none":
        token = jwt.encode(claims, None, algorithm="none")
    else:
        token = jwt.encode(claims, key, algorithm="HS256")
    with pytest.raises(ProjectTokenError):
        verify_project_token(token, KEY)


def test_policy_caps_the_lifetime():
    token = issue_project_token("alice", "alpha", KEY, 3600)
    assert verify_project_token(token, KEY, max_ttl_seconds=7200)
    with pytest.raises(ProjectTokenError, match="lifetime"):
        verify_project_token(token, KEY, max_ttl_seconds=600)


def test_short_keys_and_bad_names_are_refused():
    with pytest.raises(ProjectTokenError):
        issue_project_token("alice", "alpha", b"short", 60)
    with pytest.raises(ProjectTokenError):
        issue_project_token("alice", "Alpha Project", KEY, 60)
    with pytest.raises(ProjectTokenError):
        issue_project_token("al ice", "alpha", KEY, 60)


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv("SANDKASSE_PROJECT_TOKEN_KEY", "k" * 44)
    assert load_project_token_key() == b"k" * 44
    monkeypatch.setenv("SANDKASSE_PROJECT_TOKEN_KEY", "short")
    with pytest.raises(ProjectTokenError):
        load_project_token_key()
