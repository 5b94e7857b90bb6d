"""Helpers of the hub's end-to-end tests: the notebook image, a provisioning database with test
projects, a real JupyterHub on this host (started with ``hub.run.start_hub``) spawning real
containers through ``ProjectDockerSpawner``, and helpers to start servers and probe from inside.

Everything the tests create is named with a per-run suffix and removed at the end: containers,
project networks, volumes, extract folders, and the firewall rules for the test's own ports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pandas as pd
from hub.run import HubProcess
from provisioning import api as papi
from provisioning import service
from provisioning.db import session_factory
from sandkasse.db import session_scope

PROBES = Path(__file__).parent / "probes"
RUN = secrets.token_hex(3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@contextmanager
def start_egress(database_url: str, project_token_key: str, workdir: Path, extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """The real egress service (uvicorn) on the host's 0.0.0.0 at a free port (sandboxes reach it at
    their network's gateway), on ``database_url``; yields the port and stops it afterwards."""
    from sandkasse.keys import encode_key, generate_key

    port = free_port()
    env = {
        **os.environ,
        "SANDKASSE_DATABASE_URL": database_url,
        "SANDKASSE_PROJECT_TOKEN_KEY": project_token_key,
        "SANDKASSE_MASTER_KEY": encode_key(generate_key()),
        "SANDKASSE_VAR_DIR": str(workdir / "var"),
        "SANDKASSE_EGRESS_DIR": str(workdir / "egress"),
        **(extra_env or {}),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "egress.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "egress_review.app:create_app", "--factory", "--host", "0.0.0.0", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"egress service exited: {(workdir / 'egress.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"egress service did not answer; see {workdir / 'egress.log'}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def run_probe(container: str, name: str, args: dict | None = None, timeout: float = 60) -> dict:
    """Run ``probes/<name>.py`` inside ``container`` as its own user (``docker exec -i C python3 -``);
    the probe reads its arguments as JSON from the environment and prints one JSON object."""
    argv = ["docker", "exec", "-i", "-e", f"PROBE_ARGS={json.dumps(args or {})}", container, "python3", "-"]
    proc = subprocess.run(argv, input=(PROBES / f"{name}.py").read_text(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"probe {name} failed to run in {container}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclass
class Provisioner:
    """Test projects in a provisioning database of their own. The extract file is written by the test
    (provisioning's extract builder has its own tests); membership and status go through
    ``provisioning.service`` exactly as an admin's would."""

    url: str
    slugs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.url)

    def open_project(self, name: str, members: dict[str, str], rows: int = 600) -> str:
        slug = f"{name}-{RUN}"
        with session_scope(self.sessions) as s:
            service.create_open_project(s, slug, members, title=f"Test project {name}", purpose=f"Testing the hub ({name})")
        folder = papi.extract_dir(slug)
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(
            {
                "employee_pseudonym": [f"{slug[:4]}{i % 200:04d}" for i in range(rows)],
                "service_area": [("care", "schools", "technical")[(i // 7) % 3] for i in range(rows)],
                "year": [2022 + i % 3 for i in range(rows)],
                "sick_leave_pct": [float(i % 17) for i in range(rows)],
            }
        )
        frame.to_parquet(folder / f"{name}-extract.parquet")
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o444)
        self.slugs.append(slug)
        return slug

    def sick_leave_project(self, name: str, members: dict[str, str], employees: int = 600) -> str:
        """A project like the demo's sick-leave-2026: the synthetic staff register and sick-leave episodes
        registered as datasets with their column roles, granted as the demo's project file grants them, and
        real pseudonymised extracts built by provisioning (so the welcome notebook is generated from the
        same catalogue as in the demo)."""
        from provisioning.extracts import build_project_extracts
        from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES, generate, write
        from sandkasse.keys import generate_key

        slug = f"{name}-{RUN}"
        source = papi.extract_dir(slug).parent / "source"
        paths = write(generate(employees=employees, seed=14), source, formats=("parquet",))
        dropped = {"first_name", "last_name", "address", "postcode", "post_town", "employed_from"}

        def columns(roles: dict[str, str]) -> dict[str, str]:
            how = {"national_id": "pseudonymise", "birth_date": "generalise:age10"}
            return {c: how.get(c, "keep") for c in roles if c not in dropped}

        with session_scope(self.sessions) as s:
            for dataset, file, roles in ((f"sick-leave-{slug}", "sick_leave", SICK_LEAVE_ROLES),
                                         (f"staff-{slug}", "staff", STAFF_ROLES)):
                service.create_dataset(s, name=dataset, source=paths[file], columns=roles, description=f"synthetic {file}")
            project = service.create_open_project(s, slug, members, title=f"Sick leave ({name})",
                                                  purpose="Testing the welcome notebook")
            service.grant(s, slug, f"sick-leave-{slug}", columns(SICK_LEAVE_ROLES))
            service.grant(s, slug, f"staff-{slug}", columns(STAFF_ROLES))
            s.flush()
            s.refresh(project)
            build_project_extracts(s, project, master_key=generate_key())
        self.slugs.append(slug)
        return slug

    def suspend(self, slug: str) -> None:
        with session_scope(self.sessions) as s:
            service.suspend(s, slug, actor="test", reason="testing the lifecycle service")

    def cleanup(self) -> None:
        for slug in self.slugs:
            shutil.rmtree(papi.extract_dir(slug).parent, ignore_errors=True)


@dataclass
class Hub:
    process: HubProcess
    api_port: int
    egress_port: int
    docker: docker.DockerClient
    started: list[tuple[str, str]] = field(default_factory=list)

    def api(self):
        return self.process.api()

    def start_server(self, user: str, project: str, timeout: float = 240) -> str:
        """Start ``user``'s server for ``project`` through the REST API; returns the container name."""
        with self.api() as api:
            if api.get(f"/users/{user}").status_code == 404:
                api.post(f"/users/{user}").raise_for_status()
            resp = api.post(f"/users/{user}/servers/{project}", json={})
            if resp.status_code >= 400:
                raise ServerRefused(resp.status_code, resp.text)
            self.started.append((user, project))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                server = (api.get(f"/users/{user}").json().get("servers") or {}).get(project)
                if server and server.get("ready"):
                    return self.container(user, project).name
                if server is None and time.monotonic() > deadline - timeout + 5:
                    raise AssertionError(f"server {user}/{project} vanished while starting; see {self.process.log_path}")
                time.sleep(0.1)
        raise AssertionError(f"server {user}/{project} not ready in {timeout}s; see {self.process.log_path}")

    def stop_server(self, user: str, project: str) -> None:
        with self.api() as api:
            api.delete(f"/users/{user}/servers/{project}")

    def container(self, user: str, project: str):
        found = self.docker.containers.list(
            filters={"label": [f"org.sandkasse.user={user}", f"org.sandkasse.project={project}", "org.sandkasse.role=notebook"]}
        )
        assert len(found) == 1, f"expected one container for {user}/{project}, found {len(found)}"
        return found[0]

    def server_url(self, user: str, project: str) -> str:
        return f"{self.process.url}/user/{user}/{project}/"


class ServerRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def _remove_test_objects(client: docker.DockerClient, slugs: list[str]) -> None:
    for slug in slugs:
        for c in client.containers.list(all=True, filters={"label": f"org.sandkasse.project={slug}"}):
            c.remove(force=True)
        for n in client.networks.list(filters={"label": f"org.sandkasse.project={slug}"}):
            n.remove()
        for v in client.volumes.list(filters={"label": f"org.sandkasse.project={slug}"}):
            v.remove(force=True)


