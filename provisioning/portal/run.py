"""Start the portal on this host in the background (the demo), and stop one started earlier through
its pid file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandkasse.stack.process import StackError, start_background, stop_pid_file, wait_until


@dataclass
class PortalProcess:
    proc: subprocess.Popen
    url: str
    log_path: Path


def start_portal(env: dict[str, str], *, port: int, log_path: Path, pid_file: Path, host: str = "127.0.0.1",
                 timeout: float = 60.0) -> PortalProcess:
    """Run ``uvicorn provisioning.portal.app:create_app --factory`` and wait (bounded) for ``/healthz``."""
    proc = start_background(
        [sys.executable, "-m", "uvicorn", "provisioning.portal.app:create_app", "--factory", "--host", host,
         "--port", str(port), "--no-proxy-headers", "--no-server-header"],
        log_path, env={**os.environ, **env},
    )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(proc.pid))
    handle = PortalProcess(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until(lambda: httpx.get(f"{handle.url}/healthz", timeout=2.0, trust_env=False).status_code == 200,
                   timeout=timeout, what="application portal", log=log_path, process=proc, interval=0.2)
    except StackError:
        stop_portal(pid_file)
        raise
    return handle


def stop_portal(pid_file: Path, timeout: float = 20.0) -> bool:
    return stop_pid_file(pid_file, timeout)
