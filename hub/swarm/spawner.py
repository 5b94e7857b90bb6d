"""``ProjectSwarmSpawner``: the sandbox policy of ``ProjectDockerSpawner`` as Docker Swarm services.

The same decisions (:mod:`hub.sandbox`: who may start which project, mounts, user, capabilities,
limits, environment, project token) rendered by :mod:`hub.swarm.objects`. Per project an overlay
network, ``--internal`` (its tasks have no gateway, so there is no default route to remove and no host
one hop away), ``--attachable`` (the hub and the egress service are attached to it and reached by
name) and encrypted between nodes. Tasks go where ``placement_constraints`` say (workers labelled
for notebooks by default). Each rendered task template is checked (``objects.problems``) before it
is sent, so ``extra_container_spec`` cannot undo the policy.

Built and rendered; the multi-node test bed (``tests/e2e/swarm/``) runs the rendered services on a
swarm of engines in containers. Not done: running a hub inside the swarm with this spawner end to
end, the welcome notebook (the writer needs the workspace's node), and egress through the overlay.
"""

from __future__ import annotations

import asyncio

import docker.errors
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Bool, List, Unicode, default

from hub.sandbox import ProjectSandboxMixin, SandboxSpec, refuse, sandbox_spec
from hub.swarm.objects import PROJECT_NETWORK_ROLE, overlay_network_options, problems, task_template


class ProjectSwarmSpawner(ProjectSandboxMixin, SwarmSpawner):
    network_name_prefix = Unicode("sandkasse-ovl-", help="Overlay network of a project: prefix + slug.").tag(config=True)
    volume_name_prefix = Unicode("sandkasse-", help="Prefix of the workspace and shared volumes.").tag(config=True)
    placement_constraints = List(
        Unicode(), ["node.role == worker", "node.labels.org.sandkasse.notebooks == true"],
        help="Swarm placement constraints of notebook tasks.",
    ).tag(config=True)
    hub_service = Unicode("sandkasse-hub", help="Name the hub has on every project overlay (container or service).").tag(config=True)
    egress_service = Unicode("sandkasse-egress", help="Name the egress service has on every project overlay.").tag(config=True)
    egress_port_on_overlay = Unicode("8090", help="Egress service port on the overlay.").tag(config=True)

    encrypt_overlay = Bool(True, help="Encrypt project overlays between nodes (IPsec; needs ESP in every node's kernel).").tag(config=True)

    @default("pull_policy")
    def _pull_policy_default(self) -> str:
        return "never"  # nodes get the image from the operator's registry (the test bed: docker-registry on loopback)

    def network_for(self, slug: str) -> str:
        return f"{self.network_name_prefix}{slug}"

    async def ensure_project_network(self, slug: str) -> None:
        name = self.network_for(slug)
        try:
            info = await self.docker("inspect_network", name)
        except docker.errors.NotFound:
            await self.docker("create_network", name, **overlay_network_options(slug, self.encrypt_overlay))
            info = await self.docker("inspect_network", name)
        labels = info.get("Labels") or {}
        if not (info.get("Driver") == "overlay" and info.get("Internal") and info.get("Attachable")
                and ((info.get("Options") or {}).get("encrypted") is not None or not self.encrypt_overlay)
                and labels.get("org.sandkasse.role") == PROJECT_NETWORK_ROLE):  # fmt: skip
            raise web.HTTPError(500, f"network {name} exists but is not a sandbox overlay (internal, attachable, encrypted)")
        self.network_name = name
        # The egress service is attached to the overlay, so it sees the notebook's overlay address.
        self.project_subnet = (info.get("IPAM", {}).get("Config") or [{}])[0].get("Subnet")

    def sandbox(self, slug: str, extracts: str) -> SandboxSpec:
        return sandbox_spec(
            self.policy, project=slug, user=self.user.name, network=self.network_for(slug), extracts=extracts,
            workspace=f"{self.volume_name_prefix}ws-{self.user.name}--{slug}", shared=f"{self.volume_name_prefix}shared-{slug}",
        )  # fmt: skip

    async def start(self):
        slug = await self._check_project()
        from provisioning.api import extract_dir

        extracts = extract_dir(slug)
        if not extracts.is_dir():
            raise refuse(409, f"Project '{slug}' has no data extract yet; the data controller must create it first.")
        await self.ensure_project_network(slug)
        self.hub_connect_url = f"http://{self.hub_service}:{self.hub.api_url.rsplit(':', 1)[-1]}"
        self._spec = self.sandbox(slug, str(extracts))
        self.environment = self.sandbox_env(slug, f"http://{self.egress_service}:{self.egress_port_on_overlay}", self.project_subnet)
        return await super().start()

    async def create_object(self):
        template = task_template(
            self._spec, image=self.image, env=self.get_env(), args=await self.get_command(), constraints=self.placement_constraints,
        )
        template["ContainerSpec"].update(self.extra_container_spec)
        found = problems(template)
        if found:
            raise web.HTTPError(500, "notebook service refused, it lacks: " + "; ".join(found))
        service = await self.docker("create_service", task_template=template, name=self.service_name, labels=dict(self._spec.labels))
        for _ in range(300):  # the swarm makes the task within moments; start_object then waits for it to run
            if await self.docker("tasks", filters={"service": self.service_name}):
                break
            await asyncio.sleep(0.1)
        return service
