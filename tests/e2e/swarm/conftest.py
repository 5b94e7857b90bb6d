"""The multi-node test bed (``swarmbed.py``), started once for the swarm tests: three engines, a local
registry, the notebook image distributed, and the folders a hub on the manager shares with the nodes."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandkasse.settings import REPO_ROOT
from swarmbed import SERVICE_UID, SwarmBed, projects_dir

HUB_TESTS = Path(__file__).resolve().parents[1] / "hub"
if str(HUB_TESTS) not in sys.path:
    sys.path.insert(0, str(HUB_TESTS))  # the provisioning helpers are the hub tests' (hubtest.Provisioner)

@pytest.fixture(scope="package")
def swarm_data() -> Iterator[Path]:
    """The deployment's own folder: provisioning database, hub state, quarantine; owned by the services' user."""
    folder = Path(tempfile.mkdtemp(prefix="sksw-data-", dir="/tmp"))
    folder.chmod(0o755)
    os.chown(folder, SERVICE_UID, SERVICE_UID)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="package")
def bed(docker_client, base_image, swarm_data) -> Iterator[SwarmBed]:
    projects = projects_dir()
    projects.mkdir(parents=True, exist_ok=True)
    b = SwarmBed(secrets.token_hex(3), docker_client)
    try:
        # The checkout (its venv runs the hub and the egress service on the manager), the extracts and
        # the deployment's folder, each at its own path on every node.
        b.start(workers=2, same_path={REPO_ROOT: "ro", projects: "ro", swarm_data: "rw"})
        b.image = b.distribute(base_image)
        yield b
    finally:
        b.stop()
