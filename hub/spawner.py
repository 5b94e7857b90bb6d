"""``ProjectDockerSpawner``: one hardened notebook container per (researcher, project).

A named server's name is the project's slug. Before anything is created the spawner asks
provisioning whether the user may work in that project today and refuses with HTTP 403 otherwise.
The container then gets:

* the project's extracts read-only at ``/data`` (nothing else from the host),
* a per-(user, project) workspace volume as the home directory, and a per-project ``/shared``
  volume when the policy allows it,
* the project's own ``--internal`` network (bridge ``<prefix><hash>``, no inter-container traffic),
  guarded on the host by :mod:`hub.firewall`; its default route is removed after start, so the only
  reachable addresses are the hub API and the egress service on the bridge's gateway,
* user 1000, all capabilities dropped, ``no-new-privileges``, a read-only root file system, and the
  PID, memory and CPU limits of ``policies/security.yaml``,
* a root-owned ``JUPYTER_CONFIG_DIR`` (the lockdown of :mod:`hub.lockdown`), the egress endpoint and a
  project token bound to (user, project).

``start()`` returns only when the notebook server answers HTTP, polled at a fine grain, so the hub's
first readiness poll succeeds instead of waiting out its exponential backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import docker.errors
import httpx
from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Float, Int, Unicode, default

from hub.audit import append_record
from hub.engine_check import engine_problem
from hub.firewall import SandboxFirewall, drop_default_route
from hub.node_agent.hub_side import NodeAgentMixin
from hub.sandbox import (  # noqa: F401  (names kept importable from here)
    DATA_MOUNT,
    HOME,
    JUPYTER_CONFIG_DIR,
    SHARED_MOUNT,
    TMP_MOUNT,
    ProjectSandboxMixin,
    SandboxSpec,
    refuse,
    sandbox_spec,
)
from hub.sandbox_settings import container_user, docker_host_config
from hub.settings import HubSettings
from hub.welcome import WELCOME_NOTEBOOK, render_welcome_notebook
from hub.welcome_r import WELCOME_R_NOTEBOOK, image_has_r, render_welcome_r_notebook
from hub.workspace import WorkspaceWriter

_SAFE = re.compile(r"[^a-z0-9_.-]+")


def _short_hash(text: str, n: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def docker_safe(name: str) -> str:
    """A Docker object name part for ``name``: readable, and unique through a hash suffix."""
    return f"{_SAFE.sub('-', name.lower()).strip('-')[:40]}-{_short_hash(name, 6)}"


def docker_options(spec: SandboxSpec) -> dict[str, object]:
    """The sandbox in Docker's words: DockerSpawner's ``mem_limit``, ``cpu_limit``, ``volumes``,
    ``extra_create_kwargs`` and ``extra_host_config``."""
    volumes: dict[str, object] = {}
    for m in spec.mounts:
        volumes[m.source] = {"bind": m.target, "mode": "ro"} if m.read_only else m.target
    return {
        "mem_limit": spec.memory,
        "cpu_limit": spec.cpus,
        "volumes": volumes,
        "extra_create_kwargs": {"user": container_user(spec), "labels": dict(spec.labels), "working_dir": spec.working_dir},
        "extra_host_config": docker_host_config(spec),
    }


class ProjectDockerSpawner(ProjectSandboxMixin, NodeAgentMixin, DockerSpawner):
    egress_port = Int(
        help="Port of the egress service on the host; sandboxes reach it at their network's gateway. Default: policy network.egress_port.",
    ).tag(config=True)
    network_name_prefix = Unicode("sandkasse-net-", help="Docker network name of a project: prefix + slug.").tag(config=True)
    volume_name_prefix = Unicode("sandkasse-", help="Prefix of the workspace and shared volumes.").tag(config=True)
    ready_poll_interval = Float(0.02, help="Seconds between readiness polls of a starting notebook server.").tag(config=True)
    ready_timeout = Float(60.0, help="Seconds a notebook server may take to answer after its container started.").tag(config=True)
    audit_file = Unicode(help="The hub's hash-chained audit file (output volume per session).").tag(config=True)

    _firewalls_installed: set[frozenset[int]] = set()
    _network_locks: dict[str, asyncio.Lock] = {}

    @default("audit_file")
    def _audit_file_default(self) -> str:
        return str(HubSettings().state_dir / "audit" / "hub.jsonl")

    @default("egress_port")
    def _egress_port_default(self) -> int:
        return self.policy.network.egress_port

    @default("name_template")
    def _name_template_default(self) -> str:
        return "sandkasse-{username}--{servername}"

    @default("use_internal_ip")
    def _use_internal_ip_default(self) -> bool:
        return True

    @default("remove")
    def _remove_default(self) -> bool:
        return True  # the home is a volume; the container itself holds nothing worth keeping

    @default("pull_policy")
    def _pull_policy_default(self) -> str:
        return "never"  # no registry: images are built locally

    # ---- network ----------------------------------------------------------------------------

    def bridge_name(self, slug: str) -> str:
        prefix = self.policy.network.bridge_prefix
        return f"{prefix}{_short_hash(slug, 15 - len(prefix))}"  # Linux interface names: 15 characters at most

    async def ensure_project_network(self, slug: str) -> str:
        """The project's internal network (created on first use); returns its gateway address."""
        name = f"{self.network_name_prefix}{slug}"
        lock = self._network_locks.setdefault(name, asyncio.Lock())
        async with lock:
            try:
                info = await self.docker("inspect_network", name)
            except docker.errors.NotFound:
                await self.docker(
                    "create_network",
                    name,
                    driver="bridge",
                    internal=True,
                    check_duplicate=True,
                    options={
                        "com.docker.network.bridge.name": self.bridge_name(slug),
                        "com.docker.network.bridge.enable_icc": "false",
                        "com.docker.network.bridge.enable_ip_masquerade": "false",
                    },
                    labels={"org.sandkasse.project": slug, "org.sandkasse.role": "project-network"},
                )
                info = await self.docker("inspect_network", name)
        options = info.get("Options") or {}
        if not info.get("Internal") or options.get("com.docker.network.bridge.name") != self.bridge_name(slug):
            raise web.HTTPError(500, f"network {name} exists but is not a sandbox network (internal, bridge {self.bridge_name(slug)})")
        self.network_name = name
        # The project token is bound to this subnet: copied out of the notebook it opens nothing.
        self.project_subnet = info["IPAM"]["Config"][0].get("Subnet")
        return info["IPAM"]["Config"][0]["Gateway"]

    def _hub_api_port(self) -> int:
        return urlparse(self.hub.api_url).port or self.policy.network.hub_api_port

    def ensure_firewall(self) -> None:
        ports = frozenset({self._hub_api_port(), self.egress_port})
        if ports in self._firewalls_installed:
            return
        net = self.policy.network
        fw = SandboxFirewall(net.chain, net.bridge_prefix, set(ports), policy_ports={net.hub_api_port, net.egress_port} & ports)
        fw.install()
        fw.verify()
        self._firewalls_installed.add(ports)

    # ---- volumes and welcome notebook ------------------------------------------------------

    def workspace_volume(self, slug: str) -> str:
        return f"{self.volume_name_prefix}ws-{docker_safe(self.user.name)}--{slug}"

    def shared_volume(self, slug: str) -> str:
        return f"{self.volume_name_prefix}shared-{slug}"

    async def _ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        # No chown by host path: mounted at the image's home (or /shared), a fresh volume takes that
        # folder's owner (uid 1000) from Docker, see hub.workspace.
        try:
            await self.docker("inspect_volume", name)
        except docker.errors.NotFound:
            await self.docker("create_volume", name=name, labels=labels)

    async def prepare_volumes(self, slug: str, extract_dir: Path) -> None:
        labels = {"org.sandkasse.project": slug, "org.sandkasse.user": self.user.name}
        await self._ensure_volume(self.workspace_volume(slug), {**labels, "org.sandkasse.role": "workspace"})
        if self.policy.sandbox.shared_folder:
            await self._ensure_volume(self.shared_volume(slug), {"org.sandkasse.project": slug, "org.sandkasse.role": "shared"})
        await self.write_welcome_notebook(slug)

    async def write_welcome_notebook(self, slug: str) -> None:
        """Written by a helper container as the researcher (hub.workspace): the hub never opens a path
        in the workspace, where any name may be a link the researcher planted."""
        project = await self.directory.project(slug)
        if project is None:  # an application's synthetic twin: /data/SYNTHETIC-TWIN.md says what it is
            return
        datasets = await self.directory.datasets(slug)
        text = render_welcome_notebook(project, datasets, data_mount=DATA_MOUNT)
        files = {WELCOME_NOTEBOOK: text.encode("utf-8")}
        image = await self.docker("inspect_image", self.image)
        if image_has_r((image.get("Config") or {}).get("Labels")):
            files[WELCOME_R_NOTEBOOK] = render_welcome_r_notebook(project, datasets, data_mount=DATA_MOUNT).encode("utf-8")
        if (agent := self.node_agent()) is not None:
            result = await self.agent_write_workspace(agent, self.workspace_volume(slug), files)
            for name, why in result.get("failed", {}).items():
                self.log.warning("could not place %s in %s's workspace of %s: %s", name, self.user.name, slug, why)
            return
        box = self.policy.sandbox
        writer = WorkspaceWriter(self.client, self.image, uid=box.uid, gid=box.gid, mount=HOME)
        result = await asyncio.to_thread(
            writer.write,
            self.workspace_volume(slug),
            files,
            {"org.sandkasse.project": slug, "org.sandkasse.user": self.user.name},
        )
        for name, why in result.failed.items():
            self.log.warning("could not place %s in %s's workspace of %s: %s", name, self.user.name, slug, why)

    # ---- container ----------------------------------------------------------------------------

    def sandbox(self, slug: str, extracts: Path) -> SandboxSpec:
        return sandbox_spec(
            self.policy, project=slug, user=self.user.name, network=f"{self.network_name_prefix}{slug}",
            extracts=str(extracts), workspace=self.workspace_volume(slug), shared=self.shared_volume(slug),
        )

    def _apply_policy(self, extracts: Path | None = None) -> None:
        from provisioning.api import data_dir

        slug = self.project_slug
        options = docker_options(self.sandbox(slug, extracts or data_dir(slug)))
        self.mem_limit = options["mem_limit"]
        self.cpu_limit = options["cpu_limit"]
        self.volumes = options["volumes"]
        self.extra_create_kwargs = options["extra_create_kwargs"]
        self.extra_host_config = options["extra_host_config"]

    def _sandbox_env(self, slug: str, gateway: str) -> dict[str, str]:
        # The project token is bound to the project network's subnet: copied out of the notebook it opens nothing.
        return self.sandbox_env(slug, self.egress_url or f"http://{gateway}:{self.egress_port}", getattr(self, "project_subnet", None))

    async def check_engine(self) -> None:
        """Refuse (403, with the reason) to start a sandbox on an engine with a known way out that the
        policy does not close (hub/engine_check.py)."""
        version = (await self.docker("version")).get("Version", "")
        problem = engine_problem(version, [str(a) for a in self.policy.network.sandbox_dns])
        if problem:
            self.log.error("refusing to start a sandbox: %s", problem)
            raise refuse(403, problem)

    async def start(self):
        t0 = time.perf_counter()
        marks: list[tuple[str, float]] = []

        def mark(phase: str) -> None:
            marks.append((phase, time.perf_counter()))

        slug = await self._check_project()
        from provisioning.api import data_dir

        extracts = data_dir(slug)  # an application's synthetic twin for an "app-<id>" workspace
        if not extracts.is_dir():
            raise refuse(409, f"Project '{slug}' has no data extract yet; the data controller must create it first.")
        await self.check_engine()
        mark("access check")
        agent = self.node_agent()
        if agent is not None:
            await self.agent_firewall(agent, {self._hub_api_port(), self.egress_port})
        else:
            await asyncio.to_thread(self.ensure_firewall)
        gateway = await self.ensure_project_network(slug)
        self.hub_connect_url = f"http://{gateway}:{self._hub_api_port()}"
        mark("network")
        await self.prepare_volumes(slug, extracts)
        mark("volumes+welcome")
        self._apply_policy(extracts)
        self.environment = {**self._sandbox_env(slug, gateway)}
        ip, port = await super().start()
        mark("container")
        info = await self.docker("inspect_container", self.container_id)
        try:
            if agent is not None:
                await self.agent_isolate(agent, info["Id"])  # the agent checks the container with the engine
            else:
                await asyncio.to_thread(drop_default_route, int(info["State"]["Pid"]))
        except Exception:
            self.log.error("could not isolate %s; stopping it", self.container_name)
            await self.stop(now=True)
            raise
        mark("isolation")
        await self.wait_until_ready(ip, port)
        mark("server answers")
        phases, prev = [], t0
        for phase, at in marks:
            phases.append(f"{phase} {at - prev:.2f}s")
            prev = at
        self.log.info(
            "sandbox %s for %s/%s ready in %.2fs (%s)",
            self.container_name, self.user.name, slug, time.perf_counter() - t0, ", ".join(phases),
        )
        return ip, port

    async def stop(self, now=False):
        # The container (with /data and its token) must stop whatever the audit step does.
        try:
            await self.audit_output_volume()
        except Exception:
            self.log.exception("could not audit the output volume of %s; stopping it anyway", self.container_name)
        finally:
            await super().stop(now=now)

    async def audit_output_volume(self) -> None:
        """Record what the session sent to the browser, as counted by the hub's meter (hub/meter/) on
        the host. Nothing the container prints is read: inside it, the kernel can forge any line."""
        from hub.meter.app import current

        if not self.container_id:
            return
        project = self.name or str(self.user_options.get("project") or "")
        meter = current()
        figures = meter.end_session(self.user.name, project) if meter is not None else {"unmetered": True}
        await asyncio.to_thread(
            append_record,
            Path(self.audit_file),
            actor=self.user.name,
            action="notebook.output_volume",
            object_id=f"{self.user.name}/{project}",
            detail={
                "user": self.user.name,
                "project": project,
                "container": self.container_name,
                "source": "meter",
                **figures,
                "bytes": figures.get("kernel", 0),
                "messages": figures.get("kernel_messages", 0),
            },
        )

    async def wait_until_ready(self, ip: str, port: int) -> None:
        """Poll the server's API at a fine grain (as the hub would, but without its backoff)."""
        url = f"http://{ip}:{port}{self.server.base_url if self.server else '/'}api"
        deadline = time.monotonic() + self.ready_timeout
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(url)).status_code < 500:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(self.ready_poll_interval)
        self.log.warning("notebook server at %s did not answer within %ss; leaving it to the hub", url, self.ready_timeout)
