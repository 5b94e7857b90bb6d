"""Workspace copies that must not outlive a project or a membership.

Provisioning only records that a project closed or a member left; the hub owns the Docker volumes it
made, so the lifecycle service (``hub/lifecycle.py``) removes them on its next pass:

* a closed project: every member's workspace volume and the project's ``/shared`` volume, deleted or
  first archived (``lifecycle.on_close`` in ``policies/security.yaml``);
* a member removed from a project that goes on: that member's workspace volume, the same way.

Each removal is a record in the hub's hash-chained audit file. A volume is judged only when its name
is the one this deployment's spawner gives it and provisioning knows its project, so volumes of
another deployment on the same engine (a demo beside a test run, staging beside production) are
never touched. A volume still in use (its server is stopping) is left for the next pass.

An archive is a tar of the volume read by Docker from a created, never started container as the
sandbox user; the hub writes only to its own archive folder, never into the volume.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import docker
import docker.errors

from hub.audit import append_record
from sandkasse.audit import utcnow

log = logging.getLogger("sandkasse.retention")

WORKSPACE, SHARED = "workspace", "shared"


class _Project(Protocol):
    status: str
    members: dict[str, str]


def volume_prefix() -> str:
    """The spawner's ``volume_name_prefix`` of this deployment (images/hub/jupyterhub_config.py)."""
    deployment = os.environ.get("SANDKASSE_DEPLOYMENT")
    return f"{deployment}-" if deployment else "sandkasse-"


def workspace_volume_name(prefix: str, user: str, slug: str) -> str:
    from hub.spawner import docker_safe

    return f"{prefix}ws-{docker_safe(user)}--{slug}"


def shared_volume_name(prefix: str, slug: str) -> str:
    return f"{prefix}shared-{slug}"


@dataclass(frozen=True)
class Disposal:
    volume: str
    project: str
    kind: str  # workspace | shared
    user: str | None
    why: str


def volumes_to_dispose(volumes: Iterable[Mapping], projects: Mapping[str, _Project | None], prefix: str) -> list[Disposal]:
    """Of the engine's volumes (``docker volume inspect`` dicts), those that must go."""
    out: list[Disposal] = []
    for vol in volumes:
        labels = vol.get("Labels") or {}
        kind, slug, user = labels.get("org.sandkasse.role"), labels.get("org.sandkasse.project"), labels.get("org.sandkasse.user")
        if kind not in (WORKSPACE, SHARED) or not slug or (kind == WORKSPACE and not user):
            continue
        ours = workspace_volume_name(prefix, user, slug) if kind == WORKSPACE else shared_volume_name(prefix, slug)
        project = projects.get(slug)
        if vol.get("Name") != ours or project is None:
            continue  # another deployment's volume, or a project this provisioning does not know
        if project.status == "closed":
            out.append(Disposal(ours, slug, kind, user, "project closed"))
        elif kind == WORKSPACE and user not in project.members:
            out.append(Disposal(ours, slug, kind, user, "no longer a member"))
    return out


@dataclass
class Retention:
    client: docker.DockerClient
    image: str
    archive_dir: Path
    audit_file: Path
    on_close: Literal["delete", "archive"] = "delete"
    prefix: str = "sandkasse-"
    uid: int = 1000
    gid: int = 1000

    def candidates(self) -> tuple[list[dict], set[str]]:
        vols = [v.attrs for v in self.client.volumes.list(filters={"label": "org.sandkasse.project"})]
        return vols, {(v.get("Labels") or {}).get("org.sandkasse.project", "") for v in vols} - {""}

    def archive(self, d: Disposal) -> tuple[Path, int]:
        folder = self.archive_dir / d.project
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{d.volume}-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.tar"
        box = self.client.containers.create(
            self.image, ["true"], entrypoint=[], user=f"{self.uid}:{self.gid}", network_mode="none", read_only=True,
            cap_drop=["ALL"], volumes={d.volume: {"bind": "/archive", "mode": "ro"}},
            labels={"org.sandkasse.role": "workspace-archiver", "org.sandkasse.project": d.project},
        )
        try:
            stream, _ = box.get_archive("/archive")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in stream:
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        finally:
            box.remove(force=True)
        return target, size

    def dispose(self, d: Disposal) -> bool:
        """Archive (as the policy says) and delete one volume; False when it is still in use."""
        if self._in_use(d.volume):
            log.info("volume %s still in use; next pass", d.volume)
            return False
        detail: dict[str, object] = {"project": d.project, "user": d.user, "kind": d.kind, "why": d.why, "how": self.on_close}
        if self.on_close == "archive":
            path, size = self.archive(d)
            detail |= {"archive": str(path), "archive_bytes": size}
        try:
            self.client.volumes.get(d.volume).remove()
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as exc:  # a container took it meanwhile
            log.warning("could not remove volume %s: %s", d.volume, exc)
            return False
        append_record(self.audit_file, actor="sandkasse-lifecycle", action=f"volume.{'archived' if self.on_close == 'archive' else 'deleted'}",
                      object_id=d.volume, detail=detail)
        log.warning("removed volume %s (%s/%s: %s, %s)", d.volume, d.project, d.user or "-", d.why, self.on_close)
        return True

    def _in_use(self, volume: str) -> bool:
        return bool(self.client.containers.list(all=True, filters={"volume": volume}))

    def enforce(self, projects: Mapping[str, _Project | None]) -> list[Disposal]:
        vols, _ = self.candidates()
        return [d for d in volumes_to_dispose(vols, projects, self.prefix) if self.dispose(d)]
