"""Rendering and validating Kubernetes objects without a cluster (none runs here).

``spawner()`` builds a real ``ProjectKubeSpawner``; KubeSpawner reads a kubeconfig when it is made,
so a throw-away one points at a loopback port that nothing listens on and nothing ever calls: the
tests only render. ``validate()`` checks an object twice: against the Kubernetes JSON schema of its
kind in strict mode (``kubernetes-validate``: unknown fields and wrong types fail), and by
deserializing it into the official client's model (``kubernetes.client``, OpenAPI-generated) and back,
which must give the same object (a field the model does not know would be lost on the way).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes.client
import kubernetes_validate

KUBERNETES_VERSION = "1.33"  # the oldest version still supported upstream when this was written
_client = kubernetes.client.ApiClient()


def write_kubeconfig(path: Path) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],  # discard port: never called
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {"token": "unused"}}],
    }))
    return path


def model_name(obj: dict[str, Any]) -> str:
    version = obj["apiVersion"].split("/")[-1]
    return f"{version.capitalize()}{obj['kind']}"


def _quantities_as_strings(obj: Any, key: str = "") -> Any:
    # A quantity may be a JSON number or string for the API server; the client's model keeps strings.
    if isinstance(obj, dict):
        return {k: _quantities_as_strings(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_quantities_as_strings(v, key) for v in obj]
    if key in ("cpu", "memory", "storage", "sizeLimit") and isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return str(obj)
    return obj


def validate(obj: dict[str, Any]) -> Any:
    """The object as the official client's model, after both checks; raises on the first failure."""
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    model = _client.deserialize(SimpleNamespace(data=json.dumps(obj)), model_name(obj))
    again = _client.sanitize_for_serialization(model)
    want = _quantities_as_strings(obj)
    assert again == want, f"{obj['kind']} changed through the client model: {again} != {want}"
    return model


def as_pod(manifest: Any) -> dict[str, Any]:
    """KubeSpawner's pod model as the JSON the API server receives (apiVersion and kind included)."""
    from hub.kube.spawner import to_api_dict

    return {"apiVersion": "v1", "kind": "Pod", **to_api_dict(manifest)}


def user(name: str = "ingrid") -> SimpleNamespace:
    return SimpleNamespace(name=name, id=7, url=f"/user/{name}/", escaped_name=name)


async def spawner(tmp_path: Path, project: str = "sick-leave-2026", **config: Any):
    """A ProjectKubeSpawner for ``project``'s named server, inside the running event loop."""
    import kubernetes_asyncio.config.kube_config as kube_config

    from hub.kube.spawner import ProjectKubeSpawner

    # read at call time by KubeSpawner's load_config (once per process: it is cached)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(write_kubeconfig(tmp_path / "kubeconfig"))
    config.setdefault("egress_url", "http://10.96.0.90:8090")
    config.setdefault("project_token_key", "k" * 40)
    config.setdefault("pod_network", "10.244.0.0/16")
    sp = ProjectKubeSpawner(_mock=True, user=user(), orm_spawner=SimpleNamespace(name=project, server=None), namespace="sandkasse", **config)
    sp.api_token = "unused-hub-token"
    return sp
