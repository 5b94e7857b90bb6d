"""One of the project's web apps as its own uvicorn process (as deployed) on a loopback port: started,
waited for until ``/healthz`` answers, stopped afterwards (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT = 60.0


@contextmanager
def uvicorn_app(factory: str, port: int, env: Mapping[str, str], log_path: Path, *, what: str,
                cwd: Path | None = None, extra_args: tuple[str, ...] = ("--no-server-header",)) -> Iterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) for ``factory`` (``module:create_app``) once it answers."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(port), *extra_args],
            cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the {what} exited ({proc.returncode}); log:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {what} did not answer in {START_TIMEOUT:.0f} s; log:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def app_in_thread(app, start_timeout: float = 20.0) -> Iterator[str]:  # noqa: ANN001 - an ASGI app
    """Serve ``app`` from a uvicorn server in a thread of this process on a free loopback port; yield its URL."""
    import threading

    import uvicorn

    from sandkasse.stack.process import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
