"""The sandbox (:class:`hub.sandbox.SandboxSpec`) as a Docker Swarm service, and the project's overlay.

One rendering, used by :class:`hub.swarm.spawner.ProjectSwarmSpawner` and by the multi-node test bed,
so what the tests run on the workers is what the spawner sends. Differences from a plain container,
because a service spec cannot say them on a 20.10 engine (API 1.41):

* ``no-new-privileges``: no service field before API 1.46; each node's daemon must set it
  (``dockerd --no-new-privileges`` / ``"no-new-privileges": true``), the test bed's engines do;
* the default route: none to remove, an ``--internal`` overlay gives its tasks no gateway at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from docker.types import ContainerSpec, DNSConfig, Mount, Placement, Resources, RestartPolicy, TaskTemplate
from docker.utils import parse_bytes

from hub.sandbox import TMP_MOUNT, SandboxSpec

PROJECT_NETWORK_ROLE = "project-network"


def overlay_network_options(project: str, encrypted: bool = True) -> dict[str, object]:
    """``create_network`` arguments of a project's overlay: internal (no gateway, no route out),
    attachable (the hub and egress service join it), VXLAN traffic between nodes encrypted (IPsec ESP;
    a kernel without it drops the traffic rather than sending it in clear)."""
    return {
        "driver": "overlay",
        "internal": True,
        "attachable": True,
        "check_duplicate": True,
        "options": {"encrypted": "true"} if encrypted else {},
        "labels": {"org.sandkasse.project": project, "org.sandkasse.role": PROJECT_NETWORK_ROLE},
    }


def _mounts(spec: SandboxSpec, bind_kinds: Sequence[str]) -> list[Mount]:
    out = []
    for m in spec.mounts:
        # The extracts are a host folder (on a swarm: the same read-only export on every node); the
        # workspace and /shared are volumes (a driver that follows the task on a real swarm).
        kind = "bind" if m.kind in bind_kinds else "volume"
        out.append(Mount(target=m.target, source=m.source, type=kind, read_only=m.read_only))
    out.append(Mount(target=TMP_MOUNT, source=None, type="tmpfs", tmpfs_size=parse_bytes(spec.tmp_size), tmpfs_mode=0o1777))
    return out


def task_template(
    spec: SandboxSpec,
    *,
    image: str,
    env: Mapping[str, str],
    args: Sequence[str] | None = None,
    constraints: Sequence[str] = (),
    bind_kinds: Sequence[str] = ("extracts",),
) -> TaskTemplate:
    container = ContainerSpec(
        image=image,
        args=list(args) if args else None,
        env=dict(env),
        user=f"{spec.uid}:{spec.gid}",
        workdir=spec.working_dir,
        labels=dict(spec.labels),
        mounts=_mounts(spec, bind_kinds),
        read_only=spec.read_only_root,
        cap_drop=list(spec.drop_capabilities),
        cap_add=[],
        dns_config=DNSConfig(nameservers=list(spec.dns)),
        sysctls={"net.ipv6.conf.all.disable_ipv6": "1"} if spec.disable_ipv6 else None,
        init=True,
    )
    resources = Resources(cpu_limit=int(spec.cpus * 1e9), mem_limit=parse_bytes(spec.memory))
    resources["Limits"]["Pids"] = spec.pids  # API 1.41; docker-py has no argument for it
    return TaskTemplate(
        container_spec=container,
        resources=resources,
        restart_policy=RestartPolicy(condition="none"),  # a dead notebook is the hub's to restart, not the swarm's
        placement=Placement(constraints=list(constraints)),
        networks=[spec.network],
    )


def service_labels(spec: SandboxSpec) -> dict[str, str]:
    return dict(spec.labels)


def problems(template: Mapping) -> list[str]:
    """What a rendered task template lacks of the policy; the spawner sends nothing with a problem,
    so ``extra_container_spec`` or a profile cannot undo the sandbox."""
    c = template.get("ContainerSpec") or {}
    found = []
    if "ALL" not in (c.get("CapabilityDrop") or []):
        found.append("capabilities not all dropped")
    if c.get("CapabilityAdd"):
        found.append(f"capabilities added: {c['CapabilityAdd']}")
    if not c.get("ReadOnly"):
        found.append("root file system writable")
    user = str(c.get("User") or "")
    if not user or user.split(":")[0] in ("0", "root"):
        found.append("runs as root")
    limits = (template.get("Resources") or {}).get("Limits") or {}
    for key in ("NanoCPUs", "MemoryBytes", "Pids"):
        if not limits.get(key):
            found.append(f"no {key} limit")
    for m in c.get("Mounts") or []:
        if m.get("Target") == "/data" and not m.get("ReadOnly"):
            found.append("/data is writable")
        if m.get("Type") == "bind" and m.get("Target") != "/data":
            found.append(f"host path mounted at {m.get('Target')}")
        if m.get("Source") in ("/var/run/docker.sock", "/run/docker.sock", "/"):
            found.append("host socket or root mounted")
    if not (c.get("DNSConfig") or {}).get("Nameservers"):
        found.append("no sandbox DNS")
    if len(template.get("Networks") or []) != 1:
        found.append("not exactly one network")
    return found
