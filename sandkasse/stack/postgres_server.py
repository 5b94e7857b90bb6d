"""A PostgreSQL cluster of our own from Debian's binaries, on a loopback port: throw-away for the
tests (removed after the run), kept for the demo. The server runs as the ``postgres`` OS user
(PostgreSQL refuses to run as root), which may not be able to enter the checkout (a clone under
``/root`` or a ``mktemp -d`` folder has a mode-700 parent). So everything that user touches (data,
socket, log, initdb's password file) lives under :data:`RUNTIME_ROOT`, in a folder per checkout
(keyed by a hash of its ``var/`` path) and per cluster; the superuser password stays in the
checkout's ``var/secrets/``, which only root reads."""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from sandkasse.settings import get_settings
from sandkasse.stack.process import StackError, apt_install, file_lock, port_open, secrets_dir

PG_VERSION = "15"
PG_BIN = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 60
# Outside any checkout, so the postgres user can reach it from every checkout path; override with
# SANDKASSE_RUNTIME_ROOT (e.g. for a machine where /var/lib is read-only).
RUNTIME_ROOT = Path(os.environ.get("SANDKASSE_RUNTIME_ROOT", "/var/lib/sandkasse-local"))


def checkout_runtime_dir() -> Path:
    """This checkout's folder under :data:`RUNTIME_ROOT` (root-owned, 755: others may only pass
    through), named by a hash of the checkout's ``var/`` path, with a note saying whose it is."""
    var_dir = get_settings().var_dir.resolve()
    path = RUNTIME_ROOT / hashlib.sha256(str(var_dir).encode()).hexdigest()[:16]
    _prepare_runtime(path, var_dir)
    return path


def _prepare_runtime(path: Path, var_dir: Path | None = None) -> None:
    # again before each use: a parallel run's remove() may have deleted the (then empty) folder
    for folder in (path.parent, path):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)  # whatever the umask: the postgres user must pass through
    note = path / "checkout"
    if var_dir is not None and not note.exists():
        note.write_text(f"{var_dir}\n")
        note.chmod(0o644)


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
    """One cluster on ``port`` (127.0.0.1); ``name`` keys its folder under this checkout's runtime
    folder (owned by ``postgres``, 700: data, socket, log) and its password file."""

    name: str
    port: int
    durable: bool = True  # False for throw-away test clusters: no fsync, faster
    # Fixed when the server object is made: a later change of settings must not lose its password.
    secrets: Path = field(default_factory=secrets_dir)
    runtime: Path = field(default_factory=checkout_runtime_dir)

    @property
    def home(self) -> Path:
        return self.runtime / f"postgres-{self.name}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def password_file(self) -> Path:
        return self.secrets / f"postgres-{self.name}-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

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

    def _make_home(self) -> None:
        _prepare_runtime(self.runtime)
        for folder in (self.home, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
            _chown(folder)
            folder.chmod(0o700)

    def _initdb(self) -> None:
        self._make_home()
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
        self.password_file.chmod(0o600)
        # initdb reads the password from a file the postgres user can open; removed right after
        pwfile = self.home / f".pw-{uuid.uuid4().hex}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password)
        _chown(pwfile)
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
            self._make_home()
            self.log.touch()
            _chown(self.log)
            self.log.chmod(0o600)
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

    def remove(self) -> None:
        """Stop the cluster and delete it with its password file (throw-away clusters)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)
            self.password_file.unlink(missing_ok=True)
            if {p.name for p in self.runtime.iterdir()} <= {"checkout"}:  # this checkout's last cluster
                shutil.rmtree(self.runtime, ignore_errors=True)

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


def ensure_postgres(name: str, port: int, *, durable: bool = True) -> PostgresServer:
    return PostgresServer(name=name, port=port, durable=durable).ensure()


STALE_AFTER = 3600  # seconds: a throw-away cluster folder this old with no live server was left by a killed run


def _server_alive(home: Path) -> bool:
    try:
        pid = int((home / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # someone else's live process
    return True


def sweep_throwaway(prefix: str, runtime: Path | None = None, secrets_folder: Path | None = None) -> list[str]:
    """Delete this checkout's throw-away clusters named ``<prefix>-*`` that a killed run left behind
    (no live server, older than :data:`STALE_AFTER`); returns their names."""
    runtime = runtime or checkout_runtime_dir()
    secrets_folder = secrets_folder or secrets_dir()
    removed = []
    for home in runtime.glob(f"postgres-{prefix}-*"):
        if _server_alive(home) or time.time() - home.stat().st_mtime < STALE_AFTER:
            continue
        name = home.name.removeprefix("postgres-")
        shutil.rmtree(home, ignore_errors=True)
        (secrets_folder / f"postgres-{name}-password").unlink(missing_ok=True)
        removed.append(name)
    return removed


def throwaway_postgres(prefix: str) -> PostgresServer:
    """A fresh cluster on a free port without fsync, for one test run; call ``remove()`` after.
    Clusters of earlier runs that were killed before their ``remove()`` are swept first."""
    from sandkasse.stack.process import free_port

    sweep_throwaway(prefix)
    return ensure_postgres(f"{prefix}-{uuid.uuid4().hex[:12]}", free_port(), durable=False)
