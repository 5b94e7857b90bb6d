"""Start the egress service on this host in the background (the demo and the end-to-end tests), and
stop one started earlier through its pid file. Production runs it from ``images/egress``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandkasse.stack.process import StackError, start_background, stop_pid_file, wait_until


@dataclass
class EgressProcess:
    proc: subprocess.Popen
    url: str
    log_path: Path
    pid_file: Path | None = None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)


def start_egress(
    env: dict[str, str],
    *,
    port: int,
    host: str = "127.0.0.1",
    log_path: Path,
    pid_file: Path | None = None,
    timeout: float = 60.0,
) -> EgressProcess:
    """Run ``uvicorn egress_review.app:create_app --factory`` with ``env`` on top of this process's
    environment and wait (bounded) until ``/healthz`` answers."""
    proc = start_background(
        [sys.executable, "-m", "uvicorn", "egress_review.app:create_app", "--factory", "--host", host, "--port", str(port),
         "--no-proxy-headers"],  # the app trusts forwarded headers from SANDKASSE_TRUSTED_PROXIES only
        log_path,
        env={**os.environ, **env},
    )
    handle = EgressProcess(proc, f"http://127.0.0.1:{port}", log_path, pid_file)
    if pid_file is not None:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(proc.pid))
    try:
        wait_until(lambda: httpx.get(f"{handle.url}/healthz", timeout=2.0, trust_env=False).status_code == 200,
                   timeout=timeout, what="egress service", log=log_path, process=proc, interval=0.2)
    except StackError:
        handle.stop()
        raise
    return handle


def stop_egress(pid_file: Path, timeout: float = 20.0) -> bool:
    """Stop an egress service started with a pid file (e.g. by a detached demo); True if one ran."""
    return stop_pid_file(pid_file, timeout)
