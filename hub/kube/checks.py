"""What a sandbox pod must look like, checked on the object that goes to the API server.

``ProjectKubeSpawner`` runs ``pod_problems`` on every pod manifest before it creates it and refuses
to start one with a problem, so a setting added in the hub's configuration (``extra_pod_config``,
``extra_container_config``, a profile) cannot quietly undo the policy. The namespace's Pod Security
Admission label (``restricted``, deploy/kubernetes/) is the cluster's own second wall for most of
these; read-only root, limits, the service-account token, DNS and volume types are beyond it.
"""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUME_TYPES = {"persistentVolumeClaim", "emptyDir"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def pod_problems(pod: dict[str, Any], *, read_only_mounts: tuple[str, ...] = ("/data",),
                 claims: set[str] | None = None) -> list[str]:
    """Every way ``pod`` (an API dict, camelCase) falls short of the sandbox policy; empty when none.
    ``claims``: the only volume claims the sandbox may mount (its spec's), when known."""
    problems: list[str] = []
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"pod: {field} is set")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("pod: the service-account token is mounted (automountServiceAccountToken must be false)")
    if spec.get("dnsPolicy") != "None":
        problems.append("pod: the cluster's resolver is reachable (dnsPolicy must be None with the policy's sandbox_dns)")
    if psc.get("runAsUser") == 0 or psc.get("runAsGroup") == 0:
        problems.append("pod: runs as root")
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for name, vol in volumes.items():
        kinds = set(vol) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {name}: type {sorted(kinds - ALLOWED_VOLUME_TYPES)} (only claims and emptyDir)")
        # another project's extracts, the egress quarantine, the hub's database: claims in the same namespace
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if claims is not None and "persistentVolumeClaim" in vol and claim not in claims:
            problems.append(f"volume {name}: claim {claim!r} is not one of the sandbox's ({', '.join(sorted(claims))})")
    for c in _containers(spec):
        name = c.get("name", "?")
        csc = c.get("securityContext") or {}

        def effective(key: str) -> Any:
            return csc.get(key, psc.get(key))

        if effective("runAsNonRoot") is not True or effective("runAsUser") in (None, 0):
            problems.append(f"container {name}: may run as root (runAsNonRoot and a non-zero runAsUser)")
        if csc.get("privileged"):
            problems.append(f"container {name}: privileged")
        if csc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: privilege escalation allowed")
        caps = csc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"container {name}: capabilities not all dropped")
        if caps.get("add"):
            problems.append(f"container {name}: capabilities added {caps['add']}")
        if csc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: root file system writable")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"container {name}: seccomp profile is not RuntimeDefault")
        limits = (c.get("resources") or {}).get("limits") or {}
        for resource in ("cpu", "memory"):
            if not limits.get(resource):
                problems.append(f"container {name}: no {resource} limit")
        for mount in c.get("volumeMounts") or []:
            if mount.get("mountPath") in read_only_mounts:
                claim = (volumes.get(mount.get("name")) or {}).get("persistentVolumeClaim") or {}
                if mount.get("readOnly") is not True or claim.get("readOnly") is not True:
                    problems.append(f"container {name}: {mount.get('mountPath')} is writable")
    return problems


def network_policy_problems(actual: dict[str, Any] | None, expected: dict[str, Any]) -> list[str]:
    """How the project's NetworkPolicy found in the cluster differs from the one the policy wants."""
    if actual is None:
        return [f"NetworkPolicy {expected['metadata']['name']} is missing"]
    if actual.get("spec") != expected["spec"]:
        return [f"NetworkPolicy {expected['metadata']['name']} differs from the policy: {actual.get('spec')}"]
    return []


def peer_selector_problems(pod_labels: dict[str, str], selectors: dict[str, dict[str, str]]) -> list[str]:
    """A notebook pod that a peer's selector matches would be that peer to every notebook's NetworkPolicy
    (the hub's ``app: jupyterhub`` is also on every notebook pod KubeSpawner makes): notebooks of any
    project could then open its Jupyter port."""
    return [f"pod: its labels match the {peer} selector {sel}: every notebook could reach it as the {peer}"
            for peer, sel in selectors.items() if sel and all(pod_labels.get(k) == v for k, v in sel.items())]
