"""Keycloak for the demo and the test bed: the official distribution fetched with Maven, run in dev
mode on loopback, with the ``sandkasse`` realm from ``provisioning/keycloak/realm-sandkasse.json``.

An instance is a Keycloak home (the extracted distribution plus its dev-file database) and a port.
A server already answering on the port is reused when our stored admin password works; the realm is
(re)applied through the admin API when missing or when the realm file changed (its hash is stored as a
realm attribute). Secrets (admin password, client secrets) are generated once and kept under
``var/secrets/`` (mode 600), never in the realm file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.process import (
    StackError,
    file_lock,
    log_path,
    log_tail,
    run,
    secrets_dir,
    start_background,
    var_path,
    wait_until,
)

KEYCLOAK_VERSION = "26.4.7"
REALM_FILE = REPO_ROOT / "provisioning" / "keycloak" / "realm-sandkasse.json"
REALM = "sandkasse"
REALM_HASH_ATTRIBUTE = "sandkasse.realmFileSha256"
ADMIN_USER = "sandkasse-admin"
# Clients in the realm file whose secrets we generate and set at start.
CONFIDENTIAL_CLIENTS = ("sandkasse-hub", "sandkasse-egress", "sandkasse-portal")
# Keycloak 26.4 runs on Java 17 and 21 (and newer); the first one present wins.
JAVA_HOMES = (
    "/usr/lib/jvm/java-17-openjdk-amd64",
    "/usr/lib/jvm/java-21-openjdk-amd64",
    "/usr/lib/jvm/temurin-25-jdk-amd64",
)
START_TIMEOUT = 480.0  # dev mode re-augments at every start: up to 4 min was seen on two busy cores
FETCH_TIMEOUT = 900.0


def realm_file_hash() -> str:
    return hashlib.sha256(REALM_FILE.read_bytes()).hexdigest()


def fetch_distribution(version: str = KEYCLOAK_VERSION) -> Path:
    """The distribution tarball, fetched once with Maven into ``var/cache/keycloak/``."""
    cache = var_path("cache", "keycloak")
    tarball = cache / f"keycloak-quarkus-dist-{version}.tar.gz"
    with file_lock("keycloak-fetch", timeout=FETCH_TIMEOUT + 60):
        if not tarball.exists():
            if shutil.which("mvn") is None:
                raise StackError("Maven (mvn) is not installed: run ./scripts/install")
            run(
                [
                    "mvn", "-q", "-B", "dependency:copy",
                    f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:tar.gz",
                    f"-DoutputDirectory={cache}",
                ],
                what="fetching Keycloak with Maven",
                timeout=FETCH_TIMEOUT,
            )  # fmt: skip
        if not tarball.exists():
            raise StackError(f"Maven finished but {tarball} is missing")
    return tarball


def java_home() -> str:
    for candidate in JAVA_HOMES:
        if Path(candidate, "bin", "java").exists():
            return candidate
    found = sorted(Path("/usr/lib/jvm").glob("*/bin/java")) if Path("/usr/lib/jvm").exists() else []
    if found:
        return str(found[-1].parent.parent)
    raise StackError("no Java found under /usr/lib/jvm: run ./scripts/install (openjdk-17-jre-headless)")


def _secret_file(instance: str, what: str) -> Path:
    return secrets_dir() / f"keycloak-{instance}-{what}"


def _stored_secret(path: Path) -> str:
    """Read a secret, creating it (random, mode 600) the first time."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class KeycloakServer:
    """One Keycloak instance: ``name`` keys its home, secrets and log; ``port`` is on 127.0.0.1."""

    name: str
    port: int
    home: Path
    version: str = KEYCLOAK_VERSION
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return REALM

    @property
    def dist_dir(self) -> Path:
        return self.home / f"keycloak-{self.version}"

    @property
    def log(self) -> Path:
        return log_path(f"keycloak-{self.name}")

    @property
    def pid_file(self) -> Path:
        return var_path("run") / f"keycloak-{self.name}.pid"

    @property
    def admin_password(self) -> str:
        return _stored_secret(_secret_file(self.name, "admin-password"))

    def client_secret(self, client_id: str) -> str:
        """The generated secret of a confidential client (the same value Keycloak holds)."""
        return _stored_secret(_secret_file(self.name, f"client-{client_id}"))

    # -- lifecycle ------------------------------------------------------------------------------

    def answers(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/realms/master", timeout=2)
            return r.status_code == 200 and r.json().get("realm") == "master"
        except (httpx.HTTPError, ValueError):
            return False

    def realm_answers(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/realms/{REALM}/.well-known/openid-configuration", timeout=2)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    def ensure(self) -> KeycloakServer:
        """Start (or reuse) the server and make the realm and client secrets match the files."""
        with file_lock(f"keycloak-{self.name}", timeout=START_TIMEOUT + FETCH_TIMEOUT):
            if not self.answers():
                self._start()
            try:
                admin = self.admin(realm="master")
                admin.get_realms()
            except KeycloakError as exc:
                raise StackError(
                    f"a Keycloak answers on port {self.port} but our admin password "
                    f"({_secret_file(self.name, 'admin-password')}) does not work: stop that server "
                    f"or delete {self.dist_dir / 'data'} and the secret to start afresh ({exc})"
                ) from exc
            self._apply_realm()
        return self

    def _extract(self) -> None:
        if (self.dist_dir / "bin" / "kc.sh").exists():
            return
        tarball = fetch_distribution(self.version)
        self.home.mkdir(parents=True, exist_ok=True)
        partial = self.home / f".extract-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(partial, filter="tar")
        (partial / f"keycloak-{self.version}").rename(self.dist_dir)
        shutil.rmtree(partial, ignore_errors=True)

    def _start(self) -> None:
        self._extract()
        secret = _secret_file(self.name, "admin-password")
        if not secret.exists():
            # the bootstrap admin only exists in a fresh database; without its password we start afresh
            shutil.rmtree(self.dist_dir / "data", ignore_errors=True)
        env = {
            **os.environ,
            "JAVA_HOME": java_home(),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
            # a good neighbour on a small machine; Keycloak's default is 70% of RAM
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx768m",
        }
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env.pop(proxy, None)
        self.log.write_text("")
        argv = [
            str(self.dist_dir / "bin" / "kc.sh"),
            "start-dev",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            "--db=dev-file",
            # each instance its own management port (default 9000), so the demo and tests can coexist
            f"--http-management-port={self.port + 1000}",
        ]
        self.process = start_background(argv, self.log, env=env, cwd=self.dist_dir)
        self.pid_file.write_text(str(self.process.pid))
        wait_until(self.answers, timeout=START_TIMEOUT, what=f"Keycloak on port {self.port}",
                   log=self.log, process=self.process, interval=1.0)  # fmt: skip

    def stop(self, timeout: float = 60) -> None:
        """Stop the server we started (by the process group in our pid file)."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            if self.answers():
                raise StackError(f"Keycloak on port {self.port} was not started by us (no pid file)") from None
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while self.answers() and time.monotonic() < deadline:
            time.sleep(0.5)
        if self.answers():
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        if self.process is not None:
            self.process.wait(timeout=10)
            self.process = None

    # -- admin API --------------------------------------------------------------------------------

    def admin(self, realm: str = REALM) -> KeycloakAdmin:
        """A python-keycloak admin client acting on ``realm``, logged in as the bootstrap admin."""
        conn = KeycloakOpenIDConnection(
            server_url=self.url,
            username=ADMIN_USER,
            password=self.admin_password,
            realm_name=realm,
            user_realm_name="master",
            client_id="admin-cli",
            verify=True,
            timeout=30,
        )
        return KeycloakAdmin(connection=conn)

    def _apply_realm(self) -> None:
        master = self.admin(realm="master")
        wanted = realm_file_hash()
        existing = {r["realm"]: r for r in master.get_realms()}
        if REALM in existing:
            current = master.get_realm(REALM).get("attributes", {}).get(REALM_HASH_ATTRIBUTE)
            if current != wanted:
                master.delete_realm(REALM)  # the file is the truth; users are re-created by provisioning
                existing.pop(REALM)
        if REALM not in existing:
            payload = json.loads(REALM_FILE.read_text())
            payload.setdefault("attributes", {})[REALM_HASH_ATTRIBUTE] = wanted
            master.create_realm(payload, skip_exists=False)
        admin = self.admin()
        for client_id in CONFIDENTIAL_CLIENTS:
            uuid = admin.get_client_id(client_id)
            if uuid is None:
                raise StackError(f"client {client_id} missing from realm {REALM} after import")
            secret = self.client_secret(client_id)
            if admin.get_client_secrets(uuid).get("value") != secret:
                admin.update_client(uuid, {"secret": secret})
        wait_until(self.realm_answers, timeout=30, what=f"realm {REALM} on port {self.port}", log=self.log)


def keycloak_server(name: str, port: int, home: Path | None = None) -> KeycloakServer:
    """Describe an instance; ``home`` defaults to ``var/keycloak/<name>/``. Call ``.ensure()`` to run it."""
    return KeycloakServer(name=name, port=port, home=home or var_path("keycloak", name))


def ensure_keycloak(name: str, port: int, home: Path | None = None) -> KeycloakServer:
    return keycloak_server(name, port, home).ensure()


def log_excerpt(server: KeycloakServer) -> str:
    return log_tail(server.log)
