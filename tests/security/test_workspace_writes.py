"""Issue 15.1: the hub never writes through a path the researcher controls.

A researcher plants symbolic links to a root-only file on the host under every name the spawner
writes into their workspace, then restarts their server. The hub writes the welcome notebook through a
helper container as the researcher (``hub/workspace.py``), so the host file keeps its content, owner
and mode. Removed: the old writer (as root, by the volume's host path, then ``chown``) overwrites the
host file and hands it to uid 1000 through the same links.

The canary is a file this test creates in its own temporary folder on the host."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import docker
import pytest

from hub.welcome import WELCOME_NOTEBOOK
from hub.workspace import WorkspaceWriter
from hubtest import RUN

pytestmark = pytest.mark.e2e

CANARY_TEXT = "root:only:canary\n"
# Every name the spawner has written into a workspace: the notebook and the temporary name the old
# writer used (the new one writes to an unpredictable ``.<name>.<random>.tmp`` with O_EXCL).
PLANTED = [WELCOME_NOTEBOOK, Path(WELCOME_NOTEBOOK).with_suffix(".tmp").name]


def _canary(folder: Path) -> Path:
    folder.chmod(0o700)
    canary = folder / "canary"
    canary.write_text(CANARY_TEXT)
    os.chown(canary, 0, 0)
    canary.chmod(0o600)
    return canary


def _state(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return path.read_text(), st.st_uid, st.st_gid, st.st_mode


def _plant(container: str, canary: Path) -> None:
    """As the researcher inside the sandbox: every name the spawner writes becomes a link to the canary."""
    script = "; ".join(f"rm -rf ~/{n}; ln -s {canary} ~/{n}" for n in PLANTED)
    subprocess.run(["docker", "exec", container, "sh", "-c", script], check=True, capture_output=True, timeout=30)


def _wait_stopped(hub, user: str, slug: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with hub.api() as api:
        while time.monotonic() < deadline:
            if not (api.get(f"/users/{user}").json().get("servers") or {}).get(slug):
                return
            time.sleep(0.2)
    raise AssertionError(f"{user}/{slug} did not stop in {timeout}s")


def test_links_planted_in_the_workspace_do_not_reach_the_host_on_restart(hub, provisioner, tmp_path):
    canary = _canary(tmp_path)
    before = _state(canary)
    slug = provisioner.open_project("wslink", {"wendy": "researcher"})
    container = hub.start_server("wendy", slug)
    _plant(container, canary)
    hub.stop_server("wendy", slug)
    _wait_stopped(hub, "wendy", slug)

    container = hub.start_server("wendy", slug)
    assert _state(canary) == before, "the host file behind the planted links changed"
    # The links were replaced, not written through: the notebook is a regular file of the researcher's.
    out = subprocess.run(
        ["docker", "exec", container, "python3", "-c",
         f"import os,json;p=os.path.expanduser('~/{WELCOME_NOTEBOOK}');st=os.lstat(p);"
         "print(os.path.islink(p), st.st_uid, json.load(open(p))['nbformat'])"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.split()
    assert out == ["False", "1000", "4"], out


@pytest.fixture
def planted_volume(docker_client, notebook_image, tmp_path):
    """A workspace volume where the researcher (uid 1000) planted links to a root-only host canary."""
    canary = _canary(tmp_path)
    volume = docker_client.volumes.create(f"sandkasse-test-wslink-{RUN}-{tmp_path.name[-12:]}", labels={"org.sandkasse.test": RUN})
    script = "; ".join(f"ln -s {canary} /home/researcher/{n}" for n in PLANTED)
    docker_client.containers.run(notebook_image, ["sh", "-c", script], user="1000:1000", network_mode="none", remove=True,
                                 volumes={volume.name: {"bind": "/home/researcher", "mode": "rw"}})
    yield volume, canary
    volume.remove(force=True)


def test_helper_container_replaces_planted_links_and_leaves_the_host_file(planted_volume, notebook_image):
    volume, canary = planted_volume
    before = _state(canary)
    writer = WorkspaceWriter(docker.APIClient(), notebook_image)
    result = writer.write(volume.name, {n: b'{"nbformat": 4}' for n in PLANTED}, {"org.sandkasse.test": RUN})
    assert sorted(result.written) == sorted(PLANTED) and not result.failed, result
    assert _state(canary) == before


def _old_root_writer(home: Path, text: str) -> None:
    """The spawner's writer before issue 15: as root, by the volume's host path."""
    target = home / WELCOME_NOTEBOOK
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chown(tmp, 1000, 1000)
    tmp.replace(target)


def test_control_removed_root_writer_by_host_path_overwrites_and_chowns_the_host_file(planted_volume):
    volume, canary = planted_volume
    volume.reload()
    _old_root_writer(Path(volume.attrs["Mountpoint"]), '{"nbformat": 4}')
    text, uid, gid, _ = _state(canary)
    assert text == '{"nbformat": 4}' and (uid, gid) == (1000, 1000), "the old writer wrote through the link"


def test_a_directory_in_the_way_is_reported_not_written_through(docker_client, notebook_image, tmp_path):
    """A researcher's directory under the notebook's name: the writer leaves it (and no temporary file)
    and says so; the spawner logs it and starts the server anyway."""
    volume = docker_client.volumes.create(f"sandkasse-test-wsdir-{RUN}-{tmp_path.name[-12:]}", labels={"org.sandkasse.test": RUN})
    try:
        docker_client.containers.run(notebook_image, ["sh", "-c", f"mkdir /home/researcher/{WELCOME_NOTEBOOK}"], user="1000:1000",
                                     network_mode="none", remove=True, volumes={volume.name: {"bind": "/home/researcher", "mode": "rw"}})
        result = WorkspaceWriter(docker.APIClient(), notebook_image).write(volume.name, {WELCOME_NOTEBOOK: b"{}"}, {"org.sandkasse.test": RUN})
        assert result.written == [] and "IsADirectoryError" in result.failed[WELCOME_NOTEBOOK], result
        listing = docker_client.containers.run(notebook_image, ["ls", "-A", "/home/researcher"], user="1000:1000", network_mode="none",
                                               remove=True, volumes={volume.name: {"bind": "/home/researcher", "mode": "ro"}}).decode()
        assert ".tmp" not in listing, listing
    finally:
        volume.remove(force=True)
