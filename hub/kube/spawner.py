"""``ProjectKubeSpawner``: the sandbox policy of ``ProjectDockerSpawner`` as Kubernetes pods.

The same decisions (``hub/sandbox.py``: who may start which project, mounts, user, capabilities,
limits, environment, project token) rendered by ``hub/kube/objects.py``. Before a pod is created:

* the project's NetworkPolicy is made or put back as the policy wants it (``ensure_project_network``),
* the project's extracts claim must exist (the data controller makes it, read-only, per project),
* the pod manifest is checked (``hub/kube/checks.py``); a manifest with a problem is never sent.

The welcome notebook is written by an init container as the researcher (``hub.workspace``'s writer).
Not rendered here, unlike Docker: the PID limit (a kubelet setting, ``podPidsLimit``) and IPv6 off
inside the pod (an unsafe sysctl; the NetworkPolicy covers both address families).
The project token is bound to ``pod_network`` (the cluster's pod range), not to one project's subnet:
pods of all projects share that range, so the binding keeps a copied token useless outside the
cluster, and the NetworkPolicy is what keeps a pod to its own project. The ingress controller is a pod
in that range too: the egress service refuses a bound token on a relayed request (``egress_review.peer.relayed``).
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.rest import ApiException
from kubespawner import KubeSpawner
from kubespawner.clients import shared_client
from traitlets import Dict, Unicode, default

from hub.kube.checks import network_policy_problems, peer_selector_problems, pod_problems
from hub.kube.objects import claim_name, label_value, pod_settings, project_network_policy, workspace_writer
from hub.sandbox import DATA_MOUNT, ProjectSandboxMixin, SandboxSpec, refuse, sandbox_spec

_serializer = ApiClient.__new__(ApiClient)  # sanitize_for_serialization needs no configuration or pool


def to_api_dict(obj: Any) -> Any:
    """A kubernetes model (or dict of them) as the API's JSON: camelCase keys, no nulls."""
    return _serializer.sanitize_for_serialization(obj)


class ProjectKubeSpawner(ProjectSandboxMixin, KubeSpawner):
    pod_network = Unicode(
        "",
        help="The cluster's pod address range (CIDR); project tokens are accepted only from inside it. Required: no notebook starts without it.",
    ).tag(config=True)
    hub_selector = Dict(
        {"app.kubernetes.io/name": "sandkasse-hub"},
        help="Labels of the hub's pods: the only peers a notebook accepts and one of two it may call.",
    ).tag(config=True)
    egress_selector = Dict(
        {"app.kubernetes.io/name": "sandkasse-egress"},
        help="Labels of the egress service's pods: the other peer a notebook may call.",
    ).tag(config=True)
    hub_api_port = Unicode("", help="Hub API port notebooks call; empty: the policy's network.hub_api_port.").tag(config=True)

    @default("pod_name_template")
    def _pod_name_template_default(self) -> str:
        return "sandkasse-{user_server}"

    @default("pvc_name_template")
    def _pvc_name_template_default(self) -> str:
        return "sandkasse-ws-{user_server}"

    @default("storage_pvc_ensure")
    def _storage_pvc_ensure_default(self) -> bool:
        return True  # the workspace claim, one per (user, project), made on first start

    @default("storage_capacity")
    def _storage_capacity_default(self) -> str:
        return "10Gi"

    @default("image")
    def _image_default(self) -> str:
        from hub.settings import HubSettings

        return HubSettings().notebook_image

    @default("image_pull_policy")
    def _image_pull_policy_default(self) -> str:
        return "IfNotPresent"

    @default("automount_service_account_token")
    def _automount_default(self) -> bool:
        return False

    # ---- the policy, rendered ---------------------------------------------------------------

    def sandbox(self, slug: str) -> SandboxSpec:
        return sandbox_spec(
            self.policy, project=slug, user=self.user.name, network=self.network_policy(slug)["metadata"]["name"],
            extracts=claim_name("extracts", slug), workspace=self.pvc_name, shared=claim_name("shared", slug),
        )

    def network_policy(self, slug: str) -> dict[str, Any]:
        net = self.policy.network
        return project_network_policy(
            slug, self.namespace, hub_selector=self.hub_selector, egress_selector=self.egress_selector,
            hub_api_port=int(self.hub_api_port or net.hub_api_port), egress_port=net.egress_port, notebook_port=self.port,
        )

    def apply_sandbox(self, slug: str) -> SandboxSpec:
        spec = self.sandbox(slug)
        for trait, value in pod_settings(spec).items():
            setattr(self, trait, value)
        if not self.egress_url:
            raise refuse(500, "ProjectKubeSpawner.egress_url is not set: notebooks reach the egress service by its address (no DNS in the sandbox).")
        if self.project_token_key and not self.pod_network:
            # unbound, the token printed in a notebook would open the project's quarantine from anywhere
            raise refuse(500, "ProjectKubeSpawner.pod_network is not set (SANDKASSE_KUBE_POD_NETWORK): the project token must be bound to the cluster's pod range.")
        self.environment = self.sandbox_env(slug, self.egress_url, self.pod_network)
        return spec

    async def add_welcome_notebook(self, slug: str, spec: SandboxSpec) -> None:
        """The welcome notebook, written into the workspace by an init container before the server starts."""
        from hub.welcome import WELCOME_NOTEBOOK, render_welcome_notebook

        project = await self.directory.project(slug)
        datasets = await self.directory.datasets(slug)
        text = render_welcome_notebook(project, datasets, data_mount=DATA_MOUNT)
        self.init_containers = [workspace_writer(spec, self.image, {WELCOME_NOTEBOOK: text.encode("utf-8")})]

    async def get_pod_manifest(self):
        pod = await super().get_pod_manifest()
        claims = {m.source for m in self.sandbox(self.project_slug).mounts}
        manifest = to_api_dict(pod)
        problems = pod_problems(manifest, read_only_mounts=(DATA_MOUNT,), claims=claims)
        problems += peer_selector_problems((manifest.get("metadata") or {}).get("labels") or {},
                                           {"hub": dict(self.hub_selector), "egress": dict(self.egress_selector)})
        if problems:
            self.log.error("refusing to create %s: %s", self.pod_name, "; ".join(problems))
            raise refuse(500, "The notebook pod would break the sandbox policy: " + "; ".join(problems))
        return pod

    # ---- the cluster ------------------------------------------------------------------------

    async def ensure_project_network(self, slug: str) -> None:
        """The project's NetworkPolicy exists and is exactly the policy's (put back if edited)."""
        api = shared_client("NetworkingV1Api")
        want = self.network_policy(slug)
        name = want["metadata"]["name"]
        try:
            have = to_api_dict(await api.read_namespaced_network_policy(name, self.namespace))
        except ApiException as exc:
            if exc.status != 404:
                raise
            await api.create_namespaced_network_policy(self.namespace, want)
            return
        if network_policy_problems(have, want):
            self.log.warning("NetworkPolicy %s differed from the policy; replacing it", name)
            await api.replace_namespaced_network_policy(name, self.namespace, want)

    async def check_extracts(self, slug: str) -> None:
        try:
            await self.api.read_namespaced_persistent_volume_claim(claim_name("extracts", slug), self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise refuse(409, f"Project '{slug}' has no data extract yet; the data controller must create it first.") from exc
            raise

    async def start(self):
        slug = await self._check_project()
        spec = self.apply_sandbox(slug)
        await self.add_welcome_notebook(slug, spec)
        await self.check_extracts(slug)
        await self.ensure_project_network(slug)
        self.log.info("starting sandbox pod %s for %s/%s", self.pod_name, self.user.name, label_value(slug))
        return await super().start()
