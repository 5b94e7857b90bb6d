"""Issue 15.7: closing a project removes every copy in the hub's reach, removing a member removes theirs.

On the real Docker engine with the hub's lifecycle service (5 s passes in these tests): the workspace
volumes of every member and the project's ``/shared`` volume go when the project closes, the
workspace volume of a removed member goes while a colleague's stays, each with a record in the hub's
audit file. The archive policy and the guards (another deployment's volumes, unknown projects) are
exercised on volumes this test creates."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from hub.retention import Retention, shared_volume_name, volumes_to_dispose, workspace_volume_name
from hubtest import RUN
from provisioning import service
from sandkasse.db import session_scope

pytestmark = pytest.mark.e2e

LIMIT = 60.0


def _volumes(hub, slug: str) -> set[str]:
    return {v.name for v in hub.docker.volumes.list(filters={"label": f"org.sandkasse.project={slug}"})}


def _wait(what, check, limit: float = LIMIT) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if check():
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {limit:.0f} s")


def _audit(hub) -> list[dict]:
    """The records of every hub of this test run: the test bed's hubs share one engine and one
    provisioning database, so the lifecycle pass of another hub (a module's Keycloak hub, say) may be
    the one that removes a volume, and its record is then in that hub's audit file."""
    state_dirs = Path(hub.process.env["SANDKASSE_HUB_STATE_DIR"]).parent
    return [r for path in sorted(state_dirs.glob("*/audit/hub.jsonl")) for r in _records(path)]


def _records(path: Path) -> list[dict]:
    """The audit file's records, ``detail`` decoded (it is stored as canonical JSON text)."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            out.append({**record, "detail": json.loads(record["detail"])})
    return out


def test_closing_the_project_removes_every_members_workspace_and_the_shared_volume(hub, provisioner):
    slug = provisioner.open_project("ret-a", {"ivar": "researcher", "jane": "researcher"})
    hub.start_server("ivar", slug)
    hub.start_server("jane", slug)
    expected = {workspace_volume_name("sandkasse-", "ivar", slug), workspace_volume_name("sandkasse-", "jane", slug),
                shared_volume_name("sandkasse-", slug)}
    assert _volumes(hub, slug) == expected
    with session_scope(provisioner.sessions) as s:
        service.close(s, slug, actor="test", reason="project ended")

    def deleted() -> dict[str, dict]:
        return {r["object_id"]: r for r in _audit(hub) if r["action"] == "volume.deleted" and r["detail"]["project"] == slug}

    took = _wait("volumes of the closed project removed", lambda: not _volumes(hub, slug))
    assert took < LIMIT
    # the record follows the removal: give the pass that removed the last volume its moment to write it
    _wait("a record per removed volume", lambda: set(deleted()) >= expected, limit=10)
    records = deleted()
    assert set(records) == expected
    assert {r["detail"]["why"] for r in records.values()} == {"project closed"}


def test_removing_a_member_removes_their_workspace_only(hub, provisioner):
    slug = provisioner.open_project("ret-b", {"kim": "researcher", "lars": "researcher"})
    hub.start_server("kim", slug)
    hub.start_server("lars", slug)
    kims, lars = workspace_volume_name("sandkasse-", "kim", slug), workspace_volume_name("sandkasse-", "lars", slug)
    with session_scope(provisioner.sessions) as s:
        service.remove_member(s, slug, "kim", actor="test", reason="left the project")

    _wait("the removed member's workspace removed", lambda: kims not in _volumes(hub, slug))
    _wait("its record", lambda: any(r["object_id"] == kims for r in _audit(hub) if r["action"] == "volume.deleted"), limit=10)
    assert {lars, shared_volume_name("sandkasse-", slug)} <= _volumes(hub, slug)
    with hub.api() as api:
        assert (api.get("/users/lars").json().get("servers") or {}).get(slug, {}).get("ready") is True
    (record,) = [r for r in _audit(hub) if r["action"] == "volume.deleted" and r["object_id"] == kims]
    assert record["detail"]["why"] == "no longer a member" and record["detail"]["user"] == "kim"


# ---- the archive policy and the guards, on volumes the test creates ----------------------------------

def _project(status: str, members: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(status=status, members=members)


def test_only_this_deployments_volumes_of_known_projects_are_judged():
    slug = f"ret-g-{RUN}"
    ws = workspace_volume_name("sandkasse-", "mia", slug)
    other = workspace_volume_name("staging-", "mia", slug)
    vols = [
        {"Name": ws, "Labels": {"org.sandkasse.role": "workspace", "org.sandkasse.project": slug, "org.sandkasse.user": "mia"}},
        {"Name": other, "Labels": {"org.sandkasse.role": "workspace", "org.sandkasse.project": slug, "org.sandkasse.user": "mia"}},
        {"Name": "sandkasse-shared-elsewhere", "Labels": {"org.sandkasse.role": "shared", "org.sandkasse.project": "elsewhere"}},
    ]
    closed = volumes_to_dispose(vols, {slug: _project("closed", {"mia": "lead"}), "elsewhere": None}, "sandkasse-")
    assert [d.volume for d in closed] == [ws]
    assert volumes_to_dispose(vols, {slug: _project("active", {"mia": "lead"})}, "sandkasse-") == []
    assert volumes_to_dispose(vols, {slug: _project("suspended", {"mia": "lead"})}, "sandkasse-") == []
    assert [d.why for d in volumes_to_dispose(vols, {slug: _project("active", {})}, "sandkasse-")] == ["no longer a member"]


def test_archive_policy_keeps_a_tar_then_removes_the_volume(docker_client, notebook_image, tmp_path):
    slug = f"ret-c-{RUN}"
    name = workspace_volume_name("sandkasse-", "nils", slug)
    labels = {"org.sandkasse.role": "workspace", "org.sandkasse.project": slug, "org.sandkasse.user": "nils", "org.sandkasse.test": RUN}
    docker_client.volumes.create(name, labels=labels)
    try:
        docker_client.containers.run(notebook_image, ["sh", "-c", "echo results > /home/researcher/analysis.txt"], user="1000:1000",
                                     network_mode="none", remove=True, volumes={name: {"bind": "/home/researcher", "mode": "rw"}})
        retention = Retention(docker_client, notebook_image, tmp_path / "archive", tmp_path / "audit.jsonl", on_close="archive")
        done = retention.enforce({slug: _project("closed", {"nils": "lead"})})
        assert [d.volume for d in done] == [name]
        with pytest.raises(docker.errors.NotFound):
            docker_client.volumes.get(name)
        (record,) = _records(tmp_path / "audit.jsonl")
        assert record["action"] == "volume.archived"
        archive = Path(record["detail"]["archive"])
        assert archive.stat().st_mode & 0o077 == 0
        with tarfile.open(fileobj=io.BytesIO(archive.read_bytes())) as tar:
            assert tar.extractfile("archive/analysis.txt").read() == b"results\n"
    finally:
        try:
            docker_client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
