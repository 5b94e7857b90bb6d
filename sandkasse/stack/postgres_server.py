"""A PostgreSQL cluster of our own from Debian's binaries, on a loopback port: throw-away for the
tests (a temporary directory), kept under ``var/demo/`` for the demo. The server runs as the
``postgres`` OS user (PostgreSQL refuses to run as root); the superuser password is generated."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from sandkasse.stack.process import StackError, apt_install, file_lock, log_path, port_open, secrets_dir

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 60


def _ensure_binaries() -> None:
    if not (PG_BIN / "pg_ctl").exists():
        apt_install([f"postgresql-{PG_VERSION}"])
    try:
        pwd.getpwnam(OS_USER)
    except KeyError as exc:
        raise StackError(f"OS user {OS_USER!r} missing; install Debian's postgresql package") from exc


def _chown(path: Path) -> None:
    entry = pwd.getpwnam(OS_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _as_postgres(argv: list[str], what: str, timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            argv, user=OS_USER, capture_output=True, text=True, timeout=timeout,
            cwd="/", start_new_session=True,  # Ctrl-C in our terminal must not reach the postmaster
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: took more than {timeout} s") from exc
    if result.returncode != 0:
        raise StackError(f"{what} failed ({result.returncode}): {(result.stdout + result.stderr).strip()[-2000:]}")
    return result


@dataclass
class PostgresServer:
    """One cluster: ``data_dir`` (owned by ``postgres``), ``port`` on 127.0.0.1; ``name`` keys its log
    and password file."""

    name: str
    data_dir: Path
    port: int
    durable: bool = True  # False for throw-away test clusters: no fsync, faster
    # Fixed when the server object is made: a later change of settings must not lose its password.
    secrets: Path = field(default_factory=secrets_dir)

    @property
    def password_file(self) -> Path:
        return self.secrets / f"postgres-{self.name}-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    @property
    def log(self) -> Path:
        return log_path(f"postgres-{self.name}")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} password={self.password} dbname={database}"

    def answers(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _chown(self.data_dir)
        self.data_dir.chmod(0o700)
        self.password_file.write_text(secrets.token_urlsafe(24))
        self.password_file.chmod(0o600)
        # initdb reads the password from a file the postgres user can open; removed right after
        pwfile = self.data_dir.parent / f".pw-{uuid.uuid4().hex}"
        pwfile.write_text(self.password)
        _chown(pwfile)
        pwfile.chmod(0o600)
        try:
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
                 "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C.UTF-8"],
                "initdb", timeout=120,
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def ensure(self) -> PostgresServer:
        """Create the cluster if needed and start it unless it already answers."""
        _ensure_binaries()
        with file_lock(f"postgres-{self.name}", timeout=START_TIMEOUT + 120):
            if self.password_file.exists() and self.answers():
                return self
            if port_open(self.port):
                raise StackError(f"port {self.port} is taken by something that is not our {self.name} cluster")
            if not (self.data_dir / "PG_VERSION").exists() or not self.password_file.exists():
                if self.data_dir.exists():
                    shutil.rmtree(self.data_dir)  # a cluster whose password we lost is of no use
                self._initdb()
            self.log.touch()
            _chown(self.log)
            options = [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.data_dir}",
            ]
            if not self.durable:
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log), "-w",
                 "-t", str(START_TIMEOUT), "-o", " ".join(options), "start"],
                f"starting PostgreSQL on port {self.port} (log {self.log})", timeout=START_TIMEOUT + 10,
            )  # fmt: skip
            if not self.answers():
                raise StackError(f"PostgreSQL started but does not answer on port {self.port} (log {self.log})")
        return self

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                         "stopping PostgreSQL", timeout=60)  # fmt: skip

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def database_exists(self, name: str) -> bool:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def ensure_postgres(name: str, data_dir: Path, port: int, *, durable: bool = True) -> PostgresServer:
    return PostgresServer(name=name, data_dir=data_dir, port=port, durable=durable).ensure()
