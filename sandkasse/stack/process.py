"""Starting background processes and waiting for them, always bounded in time."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sandkasse.settings import get_settings


class StackError(RuntimeError):
    """A component of the local stack could not be started or reached; the message says why."""


def var_path(*parts: str) -> Path:
    """A directory under ``var/`` (created): ``var_path("log")``, ``var_path("cache", "keycloak")``."""
    path = get_settings().var_dir.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(name: str) -> Path:
    return var_path("log") / f"{name}.log"


def secrets_dir() -> Path:
    path = var_path("secrets")
    path.chmod(0o700)
    return path


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def start_background(
    argv: Sequence[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (like ``setsid``) so it outlives the caller and Ctrl-C in the
    caller's terminal does not reach it; output goes to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        return subprocess.Popen(
            list(argv),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            cwd=cwd,
            user=user,
        )


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    log: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.25,
) -> None:
    """Poll ``ready`` until it is true; raise :class:`StackError` after ``timeout`` seconds or as soon as
    ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except Exception:  # not ready yet: connection refused, half-started server
            pass
        if process is not None and process.poll() is not None:
            tail = log_tail(log) if log else ""
            raise StackError(f"{what}: the process exited with code {process.returncode}.\n{tail}")
        if time.monotonic() > deadline:
            tail = log_tail(log) if log else ""
            raise StackError(f"{what}: not ready after {timeout:.0f} s.\n{tail}")
        time.sleep(interval)


def stop_pid_file(pid_file: Path, timeout: float) -> bool:
    """Stop the process named in ``pid_file`` (SIGTERM, then SIGKILL after ``timeout``) and forget
    the file; True if one ran."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def file_lock(name: str, timeout: float = 600) -> Iterator[None]:
    """An exclusive lock under ``var/run/`` so two processes (test runs, the demo, other developers'
    shells) do not start the same component twice."""
    path = var_path("run") / f"{name}.lock"
    deadline = time.monotonic() + timeout
    with path.open("a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackError(f"waited {timeout:.0f} s for the lock {path}") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run(argv: Sequence[str], *, what: str, timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise :class:`StackError` with its output when it fails."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: `{' '.join(argv)}` took more than {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise StackError(f"{what}: `{argv[0]}` is not installed (run ./scripts/install)") from exc
    if result.returncode != 0:
        out = (result.stdout + result.stderr).strip()[-3000:]
        raise StackError(f"{what}: `{' '.join(argv)}` failed with code {result.returncode}\n{out}")
    return result


def apt_install(packages: Sequence[str], timeout: float = 900) -> None:
    """Install Debian packages (we run as root on Debian; a fresh machine may lack them)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with file_lock("apt"):
        run(["apt-get", "update", "-qq"], what="apt-get update", timeout=timeout, env=env)
        run(["apt-get", "install", "-y", "-qq", *packages], what=f"installing {' '.join(packages)}", timeout=timeout, env=env)
