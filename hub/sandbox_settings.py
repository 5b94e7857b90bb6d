"""The container settings every sandbox gets from ``policies/security.yaml``: one place, used by the
spawner (:mod:`hub.spawner`) and by the egress service's notebook re-execution
(:mod:`egress_review.notebooks.container`), so a re-run notebook is as locked in as a live one.
Only pydantic and the policy here: the egress side imports it without JupyterHub."""

from __future__ import annotations

from hub.policy import SecurityPolicy


def sandbox_user(policy: SecurityPolicy) -> str:
    return f"{policy.sandbox.uid}:{policy.sandbox.gid}"


def sandbox_host_config(policy: SecurityPolicy) -> dict[str, object]:
    """Docker ``HostConfig`` fields (docker-py ``create_host_config`` names) of a sandbox container,
    without its mounts, network and memory/CPU limits (which each caller sets in its own terms)."""
    box = policy.sandbox
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": box.pids,
        "read_only": box.read_only_root,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={box.tmp_size},uid={box.uid},gid={box.gid}"},
        "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"},
        "dns": [str(a) for a in policy.network.sandbox_dns],
        "privileged": False,
        "init": True,
    }
