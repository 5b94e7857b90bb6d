"""A sandbox's Docker container settings, from the engine-neutral :class:`hub.sandbox.SandboxSpec`:
one rendering used by the spawner (:mod:`hub.spawner`) and by the egress service's notebook
re-execution (:mod:`egress_review.notebooks.container`), so a re-run notebook is as locked in as a
live one."""

from __future__ import annotations

from hub.policy import SecurityPolicy
from hub.sandbox import TMP_MOUNT, SandboxSpec, sandbox_spec


def container_user(spec: SandboxSpec) -> str:
    return f"{spec.uid}:{spec.gid}"


def docker_host_config(spec: SandboxSpec) -> dict[str, object]:
    """Docker ``HostConfig`` fields (docker-py ``create_host_config`` names) of a sandbox container,
    without its mounts, network and memory/CPU limits (which each caller sets in its own terms)."""
    return {
        "cap_drop": list(spec.drop_capabilities),
        "security_opt": ["no-new-privileges:true"] if spec.no_new_privileges else [],
        "pids_limit": spec.pids,
        "read_only": spec.read_only_root,
        "tmpfs": {TMP_MOUNT: f"rw,nosuid,nodev,size={spec.tmp_size},uid={spec.uid},gid={spec.gid}"},
        "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"} if spec.disable_ipv6 else {},
        "dns": list(spec.dns),
        "privileged": spec.privileged,
        "init": True,
    }


def _unmounted(policy: SecurityPolicy) -> SandboxSpec:
    # the re-execution container mounts only the extracts, itself: the spec's mounts are not used
    return sandbox_spec(policy, project="-", user="-", network="none", extracts="-", workspace="-", shared=None)


def sandbox_host_config(policy: SecurityPolicy) -> dict[str, object]:
    return docker_host_config(_unmounted(policy))


def sandbox_user(policy: SecurityPolicy) -> str:
    return container_user(_unmounted(policy))
