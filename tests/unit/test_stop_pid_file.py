"""Stopping a detached service (demo egress, demo hub) through its pid file. The services here are
detached like the demo's (not children of the test), so nothing but the stop can end them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

import pytest

from sandkasse.stack.process import stop_pid_file

pytestmark = pytest.mark.unit


def _detached(code: str, pid_file) -> int:
    """Start ``python -c code`` in the background of a shell that exits at once; write its pid file."""
    out = subprocess.run(["sh", "-c", f"{shlex.quote(sys.executable)} -c {shlex.quote(code)} >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True, timeout=10)
    pid = int(out.stdout.strip())
    pid_file.write_text(f"{pid}\n")
    time.sleep(0.5)  # let it install its signal handler
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stops_the_process_and_forgets_the_file(tmp_path):
    pid_file = tmp_path / "svc.pid"
    pid = _detached("import time; time.sleep(60)", pid_file)
    try:
        t = time.monotonic()
        assert stop_pid_file(pid_file, timeout=10) is True
        assert time.monotonic() - t < 5  # SIGTERM was enough
        assert not _alive(pid) and not pid_file.exists()
    finally:
        if _alive(pid):
            os.kill(pid, 9)


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path):
    pid_file = tmp_path / "svc.pid"
    pid = _detached("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)", pid_file)
    try:
        t = time.monotonic()
        assert stop_pid_file(pid_file, timeout=1) is True
        assert time.monotonic() - t >= 1
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, 9)


def test_no_file_or_a_stale_one_is_nothing_to_stop(tmp_path):
    assert stop_pid_file(tmp_path / "missing.pid", timeout=1) is False
    stale = tmp_path / "stale.pid"
    stale.write_text("not a pid")
    assert stop_pid_file(stale, timeout=1) is False and not stale.exists()
