"""Files the hub places in a researcher's workspace, written by a short-lived helper container.

The workspace volume is the researcher's to shape: anything in it may be a symbolic link to a host
file, a directory, or a name they raced into place. So the hub never opens a path in it. It starts a
container from the notebook image on the volume instead, as the sandbox user (uid 1000), with no
capabilities, ``no-new-privileges``, no network, a read-only root and small limits, and gives it the
files in its environment (chunks of ``SANDKASSE_WS_<n>``: no attach call, so the same calls pass the
``images/hub/docker-api`` filter). Inside, a link can only point at the container's own files, and the writer
still does not follow one: each file goes to a fresh temporary name (``O_CREAT|O_EXCL|O_NOFOLLOW``)
in the mount's directory, opened by descriptor, and is renamed over the target, which replaces a
link rather than writing through it. This needs nothing but the Docker API, so it works when the
volume lives on another Docker host than the hub.

A fresh volume's root belongs to root; mounted at the image's home (``/home/researcher``, owned by
uid 1000), Docker gives the volume that folder's owner and mode, so the hub never ``chown``s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

import docker

# Runs with ``python3 -I`` (isolated: no current directory or user site on sys.path, so a planted
# ``json.py`` in the workspace is never imported). Reads {"dir": ..., "files": {name: base64}}.
WRITER = r"""
import base64, json, os, secrets
parts = sorted((int(k[len("SANDKASSE_WS_"):]), v) for k, v in os.environ.items() if k.startswith("SANDKASSE_WS_"))
spec = json.loads("".join(v for _, v in parts))
d = os.open(spec["dir"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
done, failed = [], {}
for name, b64 in spec["files"].items():
    tmp = ".%s.%s.tmp" % (name, secrets.token_hex(6))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=d)
        try:
            data = base64.b64decode(b64)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=d, dst_dir_fd=d)
        done.append(name)
    except OSError as exc:
        failed[name] = "%s: %s" % (type(exc).__name__, exc.strerror)
        try:
            os.unlink(tmp, dir_fd=d)
        except OSError:
            pass
print(json.dumps({"written": done, "failed": failed}))
"""


# One environment string may hold at most 128 KiB (MAX_ARG_STRLEN); all of them together share the
# kernel's argument space (a quarter of the stack limit, 2 MiB by default).
CHUNK = 96 * 1024
MAX_PAYLOAD = 1024 * 1024


class WorkspaceWriteError(RuntimeError):
    pass


def writer_environment(mount: str, files: Mapping[str, bytes]) -> dict[str, str]:
    """The environment that hands ``files`` to ``WRITER`` (run as ``python3 -I -c WRITER``) for the
    folder ``mount``; also used by the Kubernetes spawner's init container (hub/kube/)."""
    bad = [n for n in files if not _valid_name(n)]
    if bad:
        raise ValueError(f"not a plain file name: {bad}")
    payload = json.dumps({"dir": mount, "files": {n: base64.b64encode(b).decode() for n, b in files.items()}})
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"{len(payload)} bytes to place (base64): more than {MAX_PAYLOAD}")
    chunks = {f"SANDKASSE_WS_{i // CHUNK}": payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)}
    return {"PYTHONDONTWRITEBYTECODE": "1", **chunks}


@dataclass(frozen=True)
class WriteResult:
    written: list[str]
    failed: dict[str, str]  # name -> why (e.g. the researcher made it a directory)


def _valid_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..")


@dataclass(frozen=True)
class WorkspaceWriter:
    """Writes files into the top folder of a Docker volume as the sandbox user."""

    client: docker.APIClient
    image: str
    uid: int = 1000
    gid: int = 1000
    mount: str = "/home/researcher"  # the image's home: a fresh volume takes its owner (uid 1000)
    timeout: float = 60.0

    def write(self, volume: str, files: Mapping[str, bytes], labels: Mapping[str, str] | None = None) -> WriteResult:
        env = writer_environment(self.mount, files)
        host_config = self.client.create_host_config(
            binds={volume: {"bind": self.mount, "mode": "rw"}},
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            read_only=True,
            pids_limit=16,
            mem_limit="128m",
            privileged=False,
        )
        container = self.client.create_container(
            self.image,
            command=["python3", "-I", "-c", WRITER],
            entrypoint=[],
            user=f"{self.uid}:{self.gid}",
            working_dir="/",
            environment=env,
            network_disabled=True,
            labels={**(labels or {}), "org.sandkasse.role": "workspace-writer"},
            host_config=host_config,
        )["Id"]
        try:
            self.client.start(container)
            status = self.client.wait(container, timeout=self.timeout)
            out = self.client.logs(container, stdout=True, stderr=False).decode(errors="replace")
            if status.get("StatusCode") != 0:
                err = self.client.logs(container, stdout=False, stderr=True).decode(errors="replace")
                raise WorkspaceWriteError(f"workspace writer exited {status.get('StatusCode')}: {err[-1000:]}")
            result = json.loads(out.strip().splitlines()[-1])
            return WriteResult(written=result["written"], failed=result["failed"])
        finally:
            self.client.remove_container(container, force=True)

