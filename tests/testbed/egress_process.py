"""The egress service as its own process (uvicorn, as deployed) on a free loopback port, for tests that
measure the process itself (memory, libraries mapped) or need its real worker pool."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sandkasse.stack.process import free_port
from tests.unit.egress.egress_factories import TOKEN_KEY

START_TIMEOUT = 60.0


@contextmanager
def egress_process(settings, log_path: Path, policy_file: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) once ``/healthz`` answers; stopped afterwards (SIGTERM, then SIGKILL)."""
    env = {**os.environ, "SANDKASSE_DATABASE_URL": settings.effective_database_url,
           "SANDKASSE_VAR_DIR": str(settings.var_dir), "SANDKASSE_MASTER_KEY": settings.master_key,
           "SANDKASSE_PROJECT_TOKEN_KEY": TOKEN_KEY,
           "SANDKASSE_EGRESS_POLICY_FILE": str(policy_file or settings.egress_policy_file),
           "SANDKASSE_KEYCLOAK_URL": "http://127.0.0.1:9"}
    port = free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "egress_review.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "service did not start"
                time.sleep(0.3)
            yield base, proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
