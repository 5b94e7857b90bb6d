"""Issue 15.7: a closed project's unreleased files leave the quarantine (egress_review/closure.py).

Real quarantine store, real provisioning database (SQLite), real business logic through the
factories; the project is closed through provisioning as an admin would."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from egress_review.closure import purge_closed_projects
from egress_review.models import EgressAuditEvent, FileVersion, ReleaseRequest, RequestFile
from egress_review.states import FileKind, RequestState
from provisioning import service
from sandkasse.db import session_scope
from tests.unit.egress.egress_factories import SAFE_CSV, researcher

pytestmark = pytest.mark.unit


def _close(env, slug: str) -> None:
    with session_scope(env.svc.sessions) as s:
        service.close(s, slug, actor="root", reason="project ended")


def _versions(env, project: str) -> dict[str, tuple[str, bytes, str]]:
    """version id -> (request state, wrapped key, blob name) of a project."""
    with env.svc.sessions() as s:
        rows = s.execute(
            select(ReleaseRequest.state, FileVersion)
            .join(RequestFile, RequestFile.request_id == ReleaseRequest.id)
            .join(FileVersion, FileVersion.file_id == RequestFile.id)
            .where(ReleaseRequest.project == project)
        ).all()
        return {v.id: (state, v.wrapped_key, v.blob) for state, v in rows}


def _alpha_with_released_and_unreleased(env) -> tuple[str, str, str]:
    released = env.make_request(RequestState.RELEASED)
    draft = env.make_request(RequestState.DRAFT, files={"draft.csv": SAFE_CSV.encode()})
    env.store_file(researcher("alice", "alpha"), draft, "notes.txt", b"how the table was made\n", kind=FileKind.SUPPORTING)
    submitted = env.make_request(RequestState.SUBMITTED, files={"sent.csv": SAFE_CSV.encode()})
    return released, draft, submitted


def test_closing_removes_unreleased_blobs_destroys_their_keys_and_keeps_released_ones(env):
    _alpha_with_released_and_unreleased(env)
    beta = env.make_request(RequestState.DRAFT, requester="bob", project="beta")
    before = _versions(env, "alpha")
    assert all(env.svc.store.blob_path(b).exists() for _, _, b in before.values())

    assert purge_closed_projects(env.svc) == []  # nothing closed yet
    _close(env, "alpha")
    (purge,) = purge_closed_projects(env.svc)

    after = _versions(env, "alpha")
    kept = {vid for vid, (state, _, blob) in after.items() if env.svc.store.blob_path(blob).exists()}
    assert len(kept) == 1 and after[next(iter(kept))][0] == RequestState.RELEASED  # the released table only
    assert set(purge.versions) == set(after) - kept and len(purge.versions) == 3  # notes.txt, draft.csv, sent.csv
    for vid in purge.versions:
        assert after[vid][1] == b"" and before[vid][1] != b""  # key destroyed: a backup blob is unreadable
    assert all(env.svc.store.blob_path(b).exists() for _, _, b in _versions(env, "beta").values()), beta
    with env.svc.sessions() as s:
        (event,) = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "project.quarantine_deleted")).scalars()
        assert event.object_id == "alpha" and json.loads(event.detail)["count"] == 3
        assert env.svc.audit.verify(s).ok
    assert purge_closed_projects(env.svc) == []  # idempotent: nothing left to purge, no second event


def test_archive_policy_moves_the_encrypted_blobs_and_keeps_their_keys(env):
    env.svc.policy = env.svc.policy.model_copy(
        update={"closed_projects": env.svc.policy.closed_projects.model_copy(update={"unreleased_files": "archive"})})
    env.make_request(RequestState.DRAFT, files={"draft.csv": SAFE_CSV.encode()})
    _close(env, "alpha")
    (purge,) = purge_closed_projects(env.svc)
    (vid,) = purge.versions
    state, key, blob = _versions(env, "alpha")[vid]
    archived = env.svc.store.root / "archive" / "alpha" / blob
    assert not env.svc.store.blob_path(blob).exists() and archived.exists() and key != b""
    assert SAFE_CSV.encode() not in archived.read_bytes()  # still encrypted


def test_the_running_service_purges_closed_projects_on_its_own(env):
    from fastapi.testclient import TestClient

    from egress_review.app import create_app

    env.make_request(RequestState.DRAFT, files={"draft.csv": SAFE_CSV.encode()})
    _close(env, "alpha")
    app = create_app(env.settings)
    with TestClient(app):
        deadline = time.monotonic() + 20
        while any(env.svc.store.blob_path(b).exists() for _, _, b in _versions(env, "alpha").values()):
            assert time.monotonic() < deadline, "the service did not purge the closed project's quarantine"
            time.sleep(0.2)
    app.state.egress.close()
