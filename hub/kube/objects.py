"""The sandbox policy (``hub.sandbox.SandboxSpec``) in Kubernetes' words.

``pod_settings`` gives the KubeSpawner traits that make the notebook pod: the extracts claim mounted
read-only (and the volume itself read-only), the workspace and ``/shared`` claims, a private ``/tmp``
in memory, a non-root user with no capabilities, no privilege escalation, a read-only root and the
runtime's default seccomp profile, the policy's CPU and memory limits, no service-account token, and
a resolver that exists nowhere (the pod reaches the hub and the egress service by address, as on
Docker). ``project_network_policy`` is the project's network: its notebooks accept connections only
from the hub (where the meter sits between the proxy and every notebook) and open connections only
to the hub API and the egress service; nothing between two notebooks, of one project or of two.
"""

from __future__ import annotations

import re

from kubespawner.slugs import safe_slug

from hub.sandbox import TMP_MOUNT, SandboxSpec

NOTEBOOK_PORT = 8888
_TMPFS_UNITS = {"": "", "k": "Ki", "m": "Mi", "g": "Gi"}


def claim_name(kind: str, project: str) -> str:
    """Claims the operator (extracts) or the spawner (workspace) makes: ``sandkasse-<kind>-<project>``."""
    return f"sandkasse-{kind}-{project}"


def network_policy_name(project: str) -> str:
    return f"sandkasse-project-{project}"


def label_value(text: str) -> str:
    """A valid label value (63 characters of ``[A-Za-z0-9_.-]``) for a user or project name."""
    return safe_slug(text, max_length=63)


def pod_labels(spec: SandboxSpec) -> dict[str, str]:
    return {key: label_value(value) for key, value in spec.labels.items()}


def project_selector(project: str) -> dict[str, str]:
    """The labels that make a pod one of the project's notebooks (what the NetworkPolicy selects)."""
    return {"org.sandkasse.project": label_value(project), "org.sandkasse.role": "notebook"}


def tmpfs_quantity(size: str) -> str:
    """``512m`` (tmpfs, binary units) as a Kubernetes quantity, ``512Mi``."""
    m = re.fullmatch(r"(\d+)([kmg]?)", size.strip().lower())
    if not m:
        raise ValueError(f"tmp_size {size!r}: a number with k, m or g")
    return f"{m.group(1)}{_TMPFS_UNITS[m.group(2)]}"


def container_security_context(spec: SandboxSpec) -> dict[str, object]:
    return {
        "runAsUser": spec.uid,
        "runAsGroup": spec.gid,
        "runAsNonRoot": True,
        "privileged": spec.privileged,
        "allowPrivilegeEscalation": not spec.no_new_privileges,
        "capabilities": {"drop": list(spec.drop_capabilities)},
        "readOnlyRootFilesystem": spec.read_only_root,
        "seccompProfile": {"type": spec.seccomp},
    }


def pod_security_context(spec: SandboxSpec) -> dict[str, object]:
    return {
        "runAsUser": spec.uid,
        "runAsGroup": spec.gid,
        "runAsNonRoot": True,
        "fsGroup": spec.gid,
        "seccompProfile": {"type": spec.seccomp},
    }


def volumes(spec: SandboxSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, volume mounts): one claim per mount of the spec, read-only ones read-only twice
    (on the claim and on the mount), and ``/tmp`` as a size-limited memory ``emptyDir``."""
    vols: list[dict] = []
    mounts: list[dict] = []
    for m in spec.mounts:
        vols.append({"name": m.kind, "persistentVolumeClaim": {"claimName": m.source, "readOnly": m.read_only}})
        mounts.append({"name": m.kind, "mountPath": m.target, "readOnly": m.read_only})
    vols.append({"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": tmpfs_quantity(spec.tmp_size)}})
    mounts.append({"name": "tmp", "mountPath": TMP_MOUNT})
    return vols, mounts


def pod_settings(spec: SandboxSpec) -> dict[str, object]:
    """KubeSpawner trait values for the sandbox ``spec``."""
    vols, mounts = volumes(spec)
    return {
        "uid": spec.uid,
        "gid": spec.gid,
        "fs_gid": spec.gid,
        "privileged": spec.privileged,
        "allow_privilege_escalation": not spec.no_new_privileges,
        "container_security_context": container_security_context(spec),
        "pod_security_context": pod_security_context(spec),
        "cpu_limit": spec.cpus,
        "mem_limit": spec.memory,
        "volumes": vols,
        "volume_mounts": mounts,
        "working_dir": spec.working_dir,
        "extra_labels": pod_labels(spec),
        "automount_service_account_token": False,
        "extra_pod_config": {
            "enableServiceLinks": False,  # no addresses of the cluster's services in the environment
            "hostNetwork": False,
            "hostPID": False,
            "hostIPC": False,
            # The resolver exists nowhere: no name lookup leaves the pod (cluster DNS forwards outside).
            "dnsPolicy": "None",
            "dnsConfig": {"nameservers": list(spec.dns)},
        },
    }


def workspace_writer(spec: SandboxSpec, image: str, files: dict[str, bytes]) -> dict[str, object]:
    """An init container that places ``files`` (the welcome notebook) in the workspace as the researcher,
    as ``hub.workspace`` does on Docker: same user and restrictions as the notebook, the workspace claim
    only, content in its environment, written without following a link the researcher planted."""
    from hub.workspace import WRITER, writer_environment

    workspace = next(m for m in spec.mounts if m.kind == "workspace")
    env = writer_environment(workspace.target, files)
    return _literal({
        "name": "workspace-writer",
        "image": image,
        "command": ["python3", "-I", "-c", WRITER],
        "workingDir": "/",
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "securityContext": container_security_context(spec),
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
        "volumeMounts": [{"name": workspace.kind, "mountPath": workspace.target}],
    })


def _literal(obj):
    """KubeSpawner fills ``{username}``-style templates in init containers: double every brace so the
    script and the notebook's JSON pass through as they are."""
    if isinstance(obj, str):
        return obj.replace("{", "{{").replace("}", "}}")
    if isinstance(obj, list):
        return [_literal(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _literal(v) for k, v in obj.items()}
    return obj


def project_network_policy(
    project: str,
    namespace: str,
    *,
    hub_selector: dict[str, str],
    egress_selector: dict[str, str],
    hub_api_port: int,
    egress_port: int,
    notebook_port: int = NOTEBOOK_PORT,
) -> dict[str, object]:
    """The project's network as a NetworkPolicy (API dict): ingress from the hub's pods to the notebook
    port only, egress to the hub API and the egress service only. No DNS, no address blocks."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": network_policy_name(project),
            "namespace": namespace,
            "labels": {"org.sandkasse.project": label_value(project), "org.sandkasse.role": "project-network"},
        },
        "spec": {
            "podSelector": {"matchLabels": project_selector(project)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": dict(hub_selector)}}], "ports": [{"protocol": "TCP", "port": notebook_port}]},
            ],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": dict(hub_selector)}}], "ports": [{"protocol": "TCP", "port": hub_api_port}]},
                {"to": [{"podSelector": {"matchLabels": dict(egress_selector)}}], "ports": [{"protocol": "TCP", "port": egress_port}]},
            ],
        },
    }
