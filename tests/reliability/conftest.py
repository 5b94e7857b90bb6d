"""Fixtures of the reliability suite: Keycloak checkers with real tokens, and an HTTP driver of the
egress API that walks a request through its life the way the researcher client and the UI do."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx
import pytest

from tests.security.helpers import KeycloakUsers, project_headers
from tests.testbed.keycloak_fixtures import KeycloakTestbed
from tests.unit.egress.egress_factories import wait_checked

CHECKERS = tuple(f"rel-checker{i}" for i in range(10))


@pytest.fixture(scope="session")
def rel_users(keycloak: KeycloakTestbed) -> KeycloakUsers:
    users = KeycloakUsers(keycloak)
    for name in CHECKERS:
        users.add(name, ("output-checker",))
    return users


@pytest.fixture(scope="session")
def token_key() -> str:
    return secrets.token_urlsafe(40)


@dataclass
class Flow:
    """One egress service's API as the actors use it (raises on any unexpected status)."""

    url: str
    token_key: str
    users: KeycloakUsers
    timeout: float = 30.0
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=self.timeout, trust_env=False)

    def researcher(self, user: str, project: str) -> dict[str, str]:
        return project_headers(self.token_key, user, project)

    def call(self, method: str, path: str, headers: dict[str, str], expect: int | tuple[int, ...] = 200, **kw) -> httpx.Response:
        r = self.client.request(method, path, headers=headers, **kw)
        ok = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in ok, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r

    def draft(self, h: dict[str, str]) -> str:
        return self.call("POST", "/api/v1/requests", h, 201, json={"title": "reliability"}).json()["id"]

    def add_file(self, h: dict[str, str], req: str, name: str) -> str:
        return self.call("POST", f"/api/v1/requests/{req}/files", h, 201,
                         json={"name": name, "context": "counts by district", "controls": "all cells >= 10"}).json()["id"]

    def upload(self, h: dict[str, str], req: str, fid: str, data: bytes) -> httpx.Response:
        return self.call("PUT", f"/api/v1/requests/{req}/files/{fid}/content", {**h, "Content-Type": "application/octet-stream"},
                         200, content=data)

    def submitted(self, h: dict[str, str], files: dict[str, bytes]) -> tuple[str, list[str]]:
        req = self.draft(h)
        ids = []
        for name, data in files.items():
            fid = self.add_file(h, req, name)
            self.upload(h, req, fid, data)
            ids.append(fid)
        self.call("POST", f"/api/v1/requests/{req}/submit", h)
        self.wait_checked(h, req)
        return req, ids

    def wait_checked(self, h: dict[str, str], req: str) -> dict:
        """The request once the service has run the automatic checks on every file (checkers vote after)."""
        return wait_checked(self.client, h, req)

    def vote_all(self, checker: str, req: str, file_ids: list[str]) -> None:
        for fid in file_ids:
            self.call("PUT", f"/api/v1/requests/{req}/files/{fid}/vote", self.users.headers(checker),
                      json={"decision": "approve", "comment": "fine"})

    def review(self, checker: str, req: str) -> httpx.Response:
        return self.call("POST", f"/api/v1/requests/{req}/reviews", self.users.headers(checker))

    def close(self) -> None:
        self.client.close()


def table(rows: int = 40, seed: int = 0) -> bytes:
    """A safe table (every count well above the threshold) of about ``rows`` lines."""
    lines = ["district,year,days"] + [f"D{(i + seed) % 97:02d},{2020 + i % 5},{100 + (i * 7 + seed) % 900}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()
