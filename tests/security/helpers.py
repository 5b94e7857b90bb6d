"""Helpers shared by the security and reliability suites: real Keycloak users with real tokens, an
egress service on the test bed's Keycloak (in process, or as a real uvicorn process on a loopback
port that a test may kill -9), and project provisioning through provisioning's own functions."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from egress_review.identity.project_token import issue_project_token
from egress_review.settings import EgressSettings
from sandkasse.settings import REPO_ROOT
from sandkasse.stack.process import free_port
from tests.testbed.keycloak_fixtures import KeycloakTestbed
from tests.unit.egress.egress_factories import SAFE_CSV, provision

__all__ = ["SAFE_CSV", "KeycloakUsers", "LiveEgress", "egress_settings_for", "provision"]


@dataclass
class KeycloakUsers:
    """Realm users with fresh passwords per run; tokens are fetched from the real Keycloak and kept
    until shortly before they expire."""

    keycloak: KeycloakTestbed
    passwords: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict)

    def add(self, username: str, roles: tuple[str, ...]) -> str:
        password = secrets.token_urlsafe(16)
        self.keycloak.create_user(username, password, realm_roles=roles)
        self.passwords[username] = password
        return username

    def token(self, username: str) -> str:
        cached = self._cache.get(username)
        if cached and cached[1] > time.time() + 30:
            return cached[0]
        resp = self.keycloak.token(username, self.passwords[username])
        self._cache[username] = (resp["access_token"], time.time() + int(resp.get("expires_in", 60)))
        return resp["access_token"]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def egress_settings_for(tmp: Path, keycloak: KeycloakTestbed | None, token_key: str,
                        database_url: str | None = None, **extra) -> EgressSettings:
    return EgressSettings(
        var_dir=tmp / "var",
        database_url=database_url or f"sqlite:///{tmp / 'sandkasse.db'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        project_token_key=token_key,
        keycloak_url=keycloak.url if keycloak else "http://127.0.0.1:9",
        keycloak_realm=keycloak.realm if keycloak else "sandkasse",
        **extra,
    )


def project_headers(token_key: str, username: str, project: str, ttl: int = 1800) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_project_token(username, project, token_key.encode(), ttl)}"}


class LiveEgress:
    """The egress service as a real ``uvicorn`` process on a free loopback port, with the settings'
    environment. ``kill()`` is SIGKILL (no shutdown handlers run); ``start()`` again on the same
    state is a restart after a crash."""

    def __init__(self, settings: EgressSettings, log: Path, workers: int = 1) -> None:
        self.settings = settings
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDKASSE_")}
        env.update({
            "SANDKASSE_VAR_DIR": str(s.var_dir),
            "SANDKASSE_DATABASE_URL": s.effective_database_url,
            "SANDKASSE_MASTER_KEY": s.master_key or "",
            "SANDKASSE_PROJECT_TOKEN_KEY": s.project_token_key or "",
            "SANDKASSE_KEYCLOAK_URL": s.keycloak_url,
            "SANDKASSE_KEYCLOAK_REALM": s.keycloak_realm,
        })
        if s.egress_dir:
            env["SANDKASSE_EGRESS_DIR"] = str(s.egress_dir)
        if s.audit_dir:  # the shipped stream where the test's verification looks for it (the head's anchor)
            env["SANDKASSE_AUDIT_DIR"] = str(s.audit_dir)
        if s.egress_policy_file:
            env["SANDKASSE_EGRESS_POLICY_FILE"] = str(s.egress_policy_file)
        return env

    def start(self, timeout: float = 60) -> LiveEgress:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "egress_review.app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-access-log", "--workers", str(self.workers)],
                cwd=REPO_ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"egress exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"egress did not answer in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9 the service (its whole process group: the uvicorn workers too)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
