"""Test factories for the egress service: a fresh service on its own database, projects from
provisioning (the real module), principals, and "a request at state X" in one line."""

from __future__ import annotations

import base64

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from fastapi.testclient import TestClient

from egress_review import review, submission

from egress_review.identity.principal import Principal, Role, Via
from egress_review.identity.project_token import issue_project_token
from egress_review.models import ReleaseRequest
from egress_review.release.release import release
from egress_review.service import EgressService, build_service
from egress_review.settings import EgressSettings
from egress_review.states import FileKind, RequestState, VoteDecision
from sandkasse.db import make_engine, make_sessionmaker, session_scope

TOKEN_KEY = base64.b64encode(b"k" * 32).decode()

# Who is who in every test: two projects, researchers in each, checkers outside both, and a checker
# who is also a member of project beta (conflict of interest).
PROJECTS = {
    "alpha": {"alice": "researcher", "anna": "lead"},
    "beta": {"bob": "researcher", "carl": "researcher"},
}

SAFE_CSV = "district,days\nGrefsen,120\nSagene,340\nFrogner,415\n"


def egress_settings(tmp: Path, database_url: str | None = None, check_workers: int = 0) -> EgressSettings:
    """Settings on a fresh var dir; checks run in process unless ``check_workers`` (a worker pool per
    service would spawn new processes in every test)."""
    tmp.mkdir(parents=True, exist_ok=True)
    policy = tmp / "egress.yaml"
    text = (Path(__file__).resolve().parents[3] / "policies" / "egress.yaml").read_text()
    policy.write_text(text.replace("check_workers: 2", f"check_workers: {check_workers}"))
    return EgressSettings(
        egress_policy_file=policy,
        var_dir=tmp / "var",
        database_url=database_url or f"sqlite:///{tmp / 'sandkasse.db'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        project_token_key=TOKEN_KEY,
        keycloak_url="http://127.0.0.1:9",  # unit tests never reach Keycloak; integration sets the real one
    )


def provision(database_url: str, projects: dict[str, dict[str, str]] = PROJECTS) -> None:
    from provisioning import db as pdb
    from provisioning import service

    engine = make_engine(database_url)
    pdb.migrate(engine=engine)
    with session_scope(make_sessionmaker(engine)) as session:
        for slug, members in projects.items():
            service.create_open_project(session, slug, members)
    engine.dispose()


def researcher(username: str, project: str) -> Principal:
    return Principal(username, frozenset({Role.RESEARCHER}), project, Via.PROJECT_TOKEN)


def checker(username: str) -> Principal:
    return Principal(username, frozenset({Role.CHECKER}), None, Via.KEYCLOAK)


def admin(username: str = "root") -> Principal:
    return Principal(username, frozenset({Role.ADMIN}), None, Via.KEYCLOAK)


def project_token(username: str, project: str, ttl: int = 600) -> str:
    return issue_project_token(username, project, TOKEN_KEY.encode(), ttl)


async def _chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@dataclass
class Env:
    svc: EgressService
    settings: EgressSettings

    def store_file(self, p: Principal, req_id: str, name: str, data: bytes, *, kind: FileKind = FileKind.OUTPUT,
                   context: str = "counts by district", controls: str = "all cells >= 10", check: bool = True) -> str:
        """Add a file and upload ``data`` through the real quarantine path, then run its automatic
        checks (unless ``check`` is false: the version stays pending); returns the file id."""

        with self.svc.sessions() as s:
            req = submission.get_request(s, req_id)
            f = submission.add_file(s, self.svc.audit, self.svc.policy, p, req, name=name, kind=kind,
                                    context=context, controls=controls)
            s.commit()
            file_id = f.id
        self.upload(p, req_id, file_id, data, check=check)
        return file_id

    def upload(self, p: Principal, req_id: str, file_id: str, data: bytes, *, check: bool = True) -> str:
        """A new version of a file through the real quarantine path; its checks run at once (what the
        service's check queue does beside the API) unless ``check`` is false. Returns the version id."""
        from egress_review.checking import check_version
        from egress_review.upload import receive_file

        _, version_id = anyio.run(receive_file, self.svc, p, req_id, file_id, _chunks(data))
        if check:
            anyio.run(check_version, self.svc, version_id)
        return version_id

    def make_request(
        self,
        state: RequestState = RequestState.DRAFT,
        *,
        requester: str = "alice",
        project: str = "alpha",
        files: dict[str, bytes] | None = None,
        checkers: tuple[str, str] = ("chris", "cora"),
    ) -> str:
        """A request of ``requester`` in ``project`` brought to ``state`` by the real business logic."""
        p = researcher(requester, project)
        with self.svc.sessions() as s:
            req = submission.create_request(s, self.svc.audit, p)
            s.commit()
            req_id = req.id
        for name, data in (files or {"table.csv": SAFE_CSV.encode()}).items():
            self.store_file(p, req_id, name, data)
        if state == RequestState.DRAFT:
            return req_id
        if state == RequestState.WITHDRAWN:
            self.act(lambda s, r: submission.withdraw_request(s, self.svc.audit, p, r), req_id)
            return req_id
        self.act(lambda s, r: submission.submit(s, self.svc.audit, p, r), req_id)
        if state == RequestState.SUBMITTED:
            return req_id
        for name in checkers:
            self.vote_all(req_id, name, VoteDecision.APPROVE)
            self.act(lambda s, r, n=name: review.submit_review(s, self.svc.audit, self.svc.policy, checker(n), r), req_id)
        if state == RequestState.REVIEWED:
            return req_id
        c = checker(checkers[0])
        if state == RequestState.RETURNED:
            self.act(lambda s, r: review.return_request(s, self.svc.audit, self.svc.policy, c, r, "please round"), req_id)
            return req_id
        if state == RequestState.REJECTED:
            self.act(lambda s, r: review.reject(s, self.svc.audit, self.svc.policy, c, r, "identifiable"), req_id)
            return req_id
        self.act(lambda s, r: review.approve(s, self.svc.audit, self.svc.policy, c, r), req_id)
        if state == RequestState.APPROVED:
            return req_id
        self.act(lambda s, r: release(s, self.svc.audit, self.svc.store, self.svc.signer, self.svc.release_dir, r), req_id)
        assert state == RequestState.RELEASED
        return req_id

    def vote_all(self, req_id: str, name: str, decision: VoteDecision, comment: str = "") -> None:
        def _vote(s, r):
            for f in review.output_files(r):
                review.vote(s, self.svc.audit, self.svc.policy, checker(name), r, f, decision=decision,
                            comment=comment or ("ok" if decision == VoteDecision.APPROVE else "please change"))

        self.act(_vote, req_id)

    def act(self, fn, req_id: str):
        with self.svc.sessions() as s:
            req = submission.get_request(s, req_id)
            out = fn(s, req)
            s.commit()
            return out

    def get(self, req_id: str) -> ReleaseRequest:
        with self.svc.sessions() as s:
            req = submission.get_request(s, req_id)
            for f in req.files:
                _ = f.versions, f.votes
            _ = req.reviews, req.comments
            s.expunge_all()
            return req


def wait_checked(client, headers: dict[str, str], req_id: str, timeout: float = 60.0) -> dict:
    """The request (as the API shows it) once the service's check queue has checked every file."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/requests/{req_id}", headers=headers)
        assert r.status_code == 200, r.text
        d = r.json()
        if all((f["current_version"] or {}).get("verdict") != "pending" for f in d["files"]):
            return d
        assert time.monotonic() < deadline, f"checks still pending after {timeout} s: {d['files']}"
        time.sleep(0.1)


@contextmanager
def app_client(settings: EgressSettings, **client_kwargs) -> Iterator[TestClient]:
    """The egress app on ``settings`` in a test client (its start-up and shut-down run); the service the app
    built (database engines, check workers) is closed after, also when the test fails inside."""
    from egress_review.app import create_app

    app = create_app(settings)
    try:
        with TestClient(app, **client_kwargs) as client:
            yield client
    finally:
        app.state.egress.close()


def make_env(tmp: Path, database_url: str | None = None) -> Env:
    tmp.mkdir(parents=True, exist_ok=True)
    settings = egress_settings(tmp, database_url)
    provision(settings.effective_database_url)
    return Env(build_service(settings), settings)





# Valid bodies per route, so a refusal in the cross-project probe is the access check, not validation.
ROUTE_BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/api/v1/requests"): {"json": {"title": "x"}},
    ("POST", "/api/v1/requests/{request_id}/files"): {"json": {"name": "evil.csv", "context": "c", "controls": "k"}},
    ("PATCH", "/api/v1/requests/{request_id}/files/{file_id}"): {"json": {"context": "changed"}},
    ("PUT", "/api/v1/requests/{request_id}/files/{file_id}/content"): {
        "content": SAFE_CSV.encode(), "headers": {"Content-Type": "application/octet-stream"}},
    ("PUT", "/api/v1/requests/{request_id}/files/{file_id}/vote"): {"json": {"decision": "approve"}},
    ("POST", "/api/v1/requests/{request_id}/comments"): {"json": {"text": "hello", "visibility": "shared"}},
    ("POST", "/api/v1/requests/{request_id}/approve"): {"json": {}},
    ("POST", "/api/v1/requests/{request_id}/return"): {"json": {"comment": "x"}},
    ("POST", "/api/v1/requests/{request_id}/reject"): {"json": {"comment": "x"}},
    ("PUT", "/api/v1/me/notifications"): {"json": {"mode": "digest"}},
    ("POST", "/api/v1/dp/query"): {"json": {"dataset": "sick-leave", "kind": "count", "epsilon": 0.1}},
    ("POST", "/api/v1/dp/release"): {"json": {"query_id": "0" * 32}},
}


def api_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the API, read from the app's OpenAPI schema (the published contract)."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        if path.startswith("/api/"):
            out += [(m.upper(), path) for m in ops if m in ("get", "post", "put", "patch", "delete")]
    assert len(out) > 15, "the route list looks wrong"
    return out


def probe_routes(client, headers: dict[str, str], ids: dict[str, str]) -> list[tuple[str, str, int, str]]:
    """Call every API route on the objects named by ``ids`` (request_id, file_id, release_id, name)."""
    results = []
    for method, path in api_routes(client.app):
        url = path.format(**ids)
        extra = ROUTE_BODIES.get((method, path), {})
        r = client.request(method, url, headers={**headers, **extra.get("headers", {})},
                           **{k: v for k, v in extra.items() if k != "headers"})
        results.append((method, path, r.status_code, r.text))
    return results
