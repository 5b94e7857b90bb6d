"""Throw-away PostgreSQL clusters live outside the checkout (issue 14, item 1); a run killed before its
clean-up leaves one behind, which the next run deletes: only folders with no live server that are
older than an hour, so a parallel run's cluster (starting or running) is never touched."""

from __future__ import annotations

import os
import time

import pytest

from sandkasse.stack.postgres_server import STALE_AFTER, sweep_throwaway

pytestmark = pytest.mark.unit


def _cluster(runtime, secrets, name: str, *, age: float, pid: int | None = None):
    home = runtime / f"postgres-{name}"
    (home / "data").mkdir(parents=True)
    if pid is not None:
        (home / "data" / "postmaster.pid").write_text(f"{pid}\n/data\n")
    (secrets / f"postgres-{name}-password").write_text("pw")
    then = time.time() - age
    os.utime(home, (then, then))
    return home


def test_only_old_clusters_without_a_live_server_are_swept(tmp_path):
    runtime, secrets = tmp_path / "rt", tmp_path / "secrets"
    runtime.mkdir()
    secrets.mkdir()
    dead = _cluster(runtime, secrets, "test-dead", age=STALE_AFTER + 60, pid=2**22 + 12345)  # no such process
    young = _cluster(runtime, secrets, "test-young", age=10)
    live = _cluster(runtime, secrets, "test-live", age=STALE_AFTER + 60, pid=os.getpid())
    demo = _cluster(runtime, secrets, "demo", age=STALE_AFTER + 60)
    assert sweep_throwaway("test", runtime, secrets) == ["test-dead"]
    assert not dead.exists() and not (secrets / "postgres-test-dead-password").exists()
    assert young.exists() and live.exists() and demo.exists()
