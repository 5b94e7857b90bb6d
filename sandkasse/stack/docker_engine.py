"""The Docker engine: reuse the one that answers, else install Debian's ``docker.io`` and start
``dockerd`` in the background (log in ``var/log/dockerd.log``)."""

from __future__ import annotations

import shutil
import subprocess

import docker

from sandkasse.stack.process import StackError, apt_install, file_lock, log_path, start_background, wait_until

DOCKERD_START_TIMEOUT = 60.0
# Every project gets a network of its own: Docker's default pools hold about 30 networks (/16 and /20
# each), too few for a host of projects (or a test run); /24 networks from one /14 give 1,024.
ADDRESS_POOL = "base=172.20.0.0/14,size=24"


def docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def client() -> docker.DockerClient:
    # "auto": the CLI and SDK may be newer than Debian's engine (20.10, API 1.41)
    return docker.from_env(version="auto", timeout=300)


def ensure_docker(timeout: float = DOCKERD_START_TIMEOUT) -> docker.DockerClient:
    """A client for a running engine; starts one if needed, raises :class:`StackError` if it cannot."""
    if docker_answers():
        return client()
    with file_lock("dockerd"):
        if not docker_answers():  # another process may have started it while we waited for the lock
            if shutil.which("dockerd") is None or shutil.which("docker") is None:
                apt_install(["docker.io"])
            log = log_path("dockerd")
            proc = start_background(["dockerd", "--default-address-pool", ADDRESS_POOL], log)
            wait_until(docker_answers, timeout=timeout, what="dockerd", log=log, process=proc, interval=0.5)
    try:
        dc = client()
        dc.ping()
    except Exception as exc:
        raise StackError(f"dockerd answers `docker info` but the Python SDK cannot talk to it: {exc}") from exc
    return dc
