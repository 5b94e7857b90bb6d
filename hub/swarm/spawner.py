"""``ProjectSwarmSpawner``: the sandbox policy of ``ProjectDockerSpawner`` as Docker Swarm services.

The same decisions (:mod:`hub.sandbox`: who may start which project, mounts, user, capabilities,
limits, environment, project token) rendered by :mod:`hub.swarm.objects`. Per project an overlay
network, ``--internal`` (its tasks have no gateway, so there is no default route to remove and no host
one hop away), ``--attachable`` (the hub and the egress service are attached to it and reached by
name) and encrypted between nodes. Tasks go where ``placement_constraints`` say (workers labelled
for notebooks by default). Each rendered task template is checked (``objects.problems``) before it
is sent, so ``extra_container_spec`` cannot undo the policy.

The hub reaches the engine only through the Docker API filter (``images/hub/docker-api``, swarm
mode), runs as an unprivileged user and needs no host power: an internal overlay has no route out to
remove and no host bridge to guard. ``attach_containers`` (the hub's own container and the egress
service's) are connected to each project overlay, so the notebook finds both by name and nothing else.
Tested end to end on the multi-node test bed (``tests/e2e/swarm/test_swarm_hub.py``). Not done: the
welcome notebook (its writer needs the workspace's node; the node agent would write it there).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import docker.errors
from docker.types import EndpointSpec
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

    attach_containers = List(
        Unicode(), [],
        help="Containers (the hub's own, the egress service's) connected to every project overlay, on the manager the hub talks to.",
    ).tag(config=True)

    encrypt_overlay = Bool(True, help="Encrypt project overlays between nodes (IPsec; needs ESP in every node's kernel).").tag(config=True)

    @default("use_internal_ip")
    def _use_internal_ip_default(self) -> bool:
        return True  # the hub reaches the notebook by service name on the project overlay; nothing is published

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
        for container in self.attach_containers:
            await self._attach(container, info)
        # The egress service is attached to the overlay, so it sees the notebook's overlay address.
        self.project_subnet = (info.get("IPAM", {}).get("Config") or [{}])[0].get("Subnet")

    async def _attach(self, container: str, network: dict) -> None:
        attached = await self.docker("inspect_container", container)
        if network["Id"] in {n.get("NetworkID") for n in (attached["NetworkSettings"].get("Networks") or {}).values()}:
            return
        try:
            await self.docker("connect_container_to_network", container, network["Id"])
        except docker.errors.APIError as exc:
            if "already exists" not in str(exc):
                raise

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
        # JupyterHub appends /hub/api itself: the URL is the hub API's origin on the overlay
        self.hub_connect_url = f"http://{self.hub_service}:{urlparse(self.hub.api_url).port}"
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
        # DNS round robin: the service name resolves to the task's own overlay address. A virtual IP would
        # add IPVS load balancing that one notebook does not need (and that nested test engines lack).
        service = await self.docker(
            "create_service", task_template=template, name=self.service_name, labels=dict(self._spec.labels),
            endpoint_spec=EndpointSpec(mode="dnsrr"),
        )
        for _ in range(300):  # the swarm makes the task within moments; start_object then waits for it to run
            if await self.docker("tasks", filters={"service": self.service_name}):
                break
            await asyncio.sleep(0.1)
        return service
