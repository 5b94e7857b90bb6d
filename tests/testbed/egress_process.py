"""The egress service as its own process (uvicorn, as deployed) on a free loopback port, for tests that
measure the process itself (memory, libraries mapped) or need its real worker pool."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandkasse.stack.process import free_port
from tests.testbed.uvicorn_process import uvicorn_app
from tests.unit.egress.egress_factories import TOKEN_KEY


@contextmanager
def egress_process(settings, log_path: Path, policy_file: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) once ``/healthz`` answers; stopped afterwards (SIGTERM, then SIGKILL)."""
    env = {**os.environ, "SANDKASSE_DATABASE_URL": settings.effective_database_url,
           "SANDKASSE_VAR_DIR": str(settings.var_dir), "SANDKASSE_MASTER_KEY": settings.master_key,
           "SANDKASSE_PROJECT_TOKEN_KEY": TOKEN_KEY,
           "SANDKASSE_EGRESS_POLICY_FILE": str(policy_file or settings.egress_policy_file),
           "SANDKASSE_KEYCLOAK_URL": "http://127.0.0.1:9"}
    with uvicorn_app("egress_review.app:create_app", free_port(), env, log_path, what="egress service",
                     extra_args=("--log-level", "warning")) as (base, proc):
        yield base, proc
