"""Docker engine and base image fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from sandkasse.stack.base_image import ensure_base_image
from sandkasse.stack.docker_engine import ensure_docker
from tests.testbed.timing import timed


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client for the running engine (started if none answers). The engine stays up after the run:
    it is shared by the demo and other runs, and restarting it costs more than it frees."""
    with timed("docker"):
        client = ensure_docker()
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """Tag of the local Debian bookworm + python3 base image (``sandkasse/base:bookworm-<key>``)."""
    with timed("base image"):
        return ensure_base_image()
