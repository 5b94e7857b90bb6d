"""A checkout under a private folder (a clone in ``/root/...`` or in a ``mktemp -d`` folder, parents
mode 700) under a strict umask: the test bed's PostgreSQL still starts, answers and is removed
cleanly, because nothing the ``postgres`` user touches lives inside the checkout (issue 14, item 1)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.integration

SCRIPT = """
import json, os
from pathlib import Path
import psycopg
from sandkasse.stack.postgres_server import throwaway_postgres
server = throwaway_postgres("private")
try:
    url = server.create_database("probe")
    with psycopg.connect(server.conninfo("probe"), connect_timeout=5) as conn:
        one = conn.execute("SELECT 1").fetchone()[0]
    out = {"one": one, "home": str(server.home), "log": str(server.log), "password_file": str(server.password_file),
           "log_bytes": server.log.stat().st_size}
finally:
    server.remove()
out["home_left"] = server.home.exists()
out["password_left"] = server.password_file.exists()
print(json.dumps(out))
"""


def test_postgres_starts_from_a_checkout_under_a_mode_700_parent():
    private = Path(tempfile.mkdtemp(prefix="sandkasse-private-"))  # mkdtemp makes it 700
    try:
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        checkout = private / "checkout"
        checkout.mkdir()
        # the package as a clone has it: settings put var/ (secrets, logs, locks) inside this copy
        shutil.copytree(REPO_ROOT / "sandkasse", checkout / "sandkasse", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(REPO_ROOT / "policies", checkout / "policies")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDKASSE_")}
        env["PYTHONPATH"] = str(checkout)
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], cwd=checkout, env=env, capture_output=True, text=True, timeout=180,
            preexec_fn=lambda: os.umask(0o077),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["one"] == 1
        # the server's files are outside the private checkout; only root's secret is inside
        assert not out["home"].startswith(str(private)) and not out["log"].startswith(str(private))
        assert out["password_file"].startswith(str(checkout / "var" / "secrets"))
        assert out["log_bytes"] > 0
        assert out["home_left"] is False and out["password_left"] is False
    finally:
        shutil.rmtree(private, ignore_errors=True)
