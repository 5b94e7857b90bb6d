"""ProjectKubeSpawner renders the sandbox policy of ProjectDockerSpawner as a pod and a NetworkPolicy.

No cluster runs here (issue 19.4): every object is rendered by the real KubeSpawner code and validated
against the Kubernetes JSON schema (strict) and the official client's models (tests/unit/hub/kube_render.py).
The two calls that would reach an API server (NetworkPolicy and claim look-ups) go to a recording
stand-in, and say so.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from kubernetes_asyncio.client.rest import ApiException
from tornado import web

import kube_render
from hub.kube import spawner as kube_spawner_module
from hub.kube.checks import pod_problems
from hub.sandbox import sandbox_spec

pytestmark = pytest.mark.unit
PROJECT = "sick-leave-2026"


async def _render(tmp_path, **config):
    sp = await kube_render.spawner(tmp_path, **config)
    sp.apply_sandbox(PROJECT)
    return sp, kube_render.as_pod(await sp.get_pod_manifest())


def render(tmp_path, **config):
    return asyncio.run(_render(tmp_path, **config))


def test_the_pod_carries_every_control_and_validates(tmp_path):
    sp, pod = render(tmp_path)
    model = kube_render.validate(pod)  # JSON schema (strict) and the client's V1Pod
    assert type(model).__name__ == "V1Pod"
    spec = pod["spec"]
    (c,) = spec["containers"]
    csc, psc = c["securityContext"], spec["securityContext"]
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert csc["allowPrivilegeEscalation"] is False and csc["privileged"] is False
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["runAsNonRoot"] is True and csc["runAsUser"] == 1000 and csc["runAsGroup"] == 1000
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 1000 and psc["fsGroup"] == 1000
    assert csc["seccompProfile"] == psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["resources"]["limits"] == {"cpu": 1.0, "memory": 2 * 1024**3}  # policies/security.yaml: 1.0, 2G
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert not (spec["hostNetwork"] or spec["hostPID"] or spec["hostIPC"])
    assert spec["dnsPolicy"] == "None" and spec["dnsConfig"] == {"nameservers": ["192.0.2.53"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert set(mounts) == {"/data", "/home/researcher", "/shared", "/tmp"}
    data = volumes[mounts["/data"]["name"]]["persistentVolumeClaim"]
    assert mounts["/data"]["readOnly"] is True and data == {"claimName": f"sandkasse-extracts-{PROJECT}", "readOnly": True}
    assert volumes[mounts["/home/researcher"]["name"]]["persistentVolumeClaim"]["claimName"] == f"sandkasse-ws-ingrid--{PROJECT}"
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}}
    assert not any("hostPath" in v for v in spec["volumes"])
    labels = pod["metadata"]["labels"]
    assert labels["org.sandkasse.project"] == PROJECT and labels["org.sandkasse.role"] == "notebook"
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["JUPYTER_CONFIG_DIR"] == "/etc/sandkasse/jupyter" and env["SANDKASSE_PROJECT"] == PROJECT
    assert env["SANDKASSE_EGRESS_URL"] == "http://10.96.0.90:8090"
    assert pod_problems(pod) == []


def test_the_project_token_is_bound_to_the_pod_network(tmp_path):
    from egress_review.identity.project_token import verify_project_token

    _, pod = render(tmp_path)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    principal = verify_project_token(env["SANDKASSE_EGRESS_TOKEN"], b"k" * 40)
    assert (principal.username, principal.project, principal.network) == ("ingrid", PROJECT, "10.244.0.0/16")


def test_without_a_pod_network_no_notebook_starts_with_an_unbound_token(tmp_path):
    """Attack (curious researcher, careless operator): SANDKASSE_KUBE_POD_NETWORK left empty gave unbound
    project tokens, which open the project's quarantine from any laptop; the spawner now refuses."""
    with pytest.raises(web.HTTPError) as refused:
        render(tmp_path, pod_network="")
    assert refused.value.status_code == 500 and "pod_network" in refused.value.jupyterhub_message


@pytest.mark.parametrize("peer, selector", [("hub", {"app": "jupyterhub"}),
                                            ("egress", {"app.kubernetes.io/name": "jupyterhub"})])
def test_a_peer_selector_that_matches_notebook_pods_is_refused(tmp_path, peer, selector):
    """Attack (careless operator): hub_selector set to z2jh's ``app: jupyterhub`` also selects every notebook
    pod (KubeSpawner labels them so), and each project's NetworkPolicy then lets every notebook, of any
    project, open every other notebook's Jupyter port as if it were the hub. The spawner refuses the pod."""
    with pytest.raises(web.HTTPError) as refused:
        render(tmp_path, **{f"{peer}_selector": selector})
    assert refused.value.status_code == 500 and f"match the {peer} selector" in refused.value.jupyterhub_message


def test_docker_and_kubernetes_render_the_same_policy(tmp_path):
    """One decision (hub/sandbox.py), two renderings: the same user, capabilities, limits and read-only data."""
    from jupyterhub.traitlets import ByteSpecification
    from traitlets import HasTraits

    from hub.policy import security_policy
    from hub.spawner import docker_options

    spec = sandbox_spec(security_policy(), project=PROJECT, user="ingrid", network="n", extracts="/x", workspace="w", shared="s")
    docker = docker_options(spec)
    _, pod = render(tmp_path)
    c = pod["spec"]["containers"][0]
    host = docker["extra_host_config"]

    class Bytes(HasTraits):
        value = ByteSpecification()

    assert host["cap_drop"] == c["securityContext"]["capabilities"]["drop"] == list(spec.drop_capabilities) == ["ALL"]
    assert docker["extra_create_kwargs"]["user"] == f"{c['securityContext']['runAsUser']}:{c['securityContext']['runAsGroup']}"
    assert host["read_only"] is c["securityContext"]["readOnlyRootFilesystem"] is True
    assert ("no-new-privileges:true" in host["security_opt"]) is (c["securityContext"]["allowPrivilegeEscalation"] is False) is True
    assert Bytes(value=docker["mem_limit"]).value == c["resources"]["limits"]["memory"]
    assert docker["cpu_limit"] == c["resources"]["limits"]["cpu"]
    assert docker["volumes"]["/x"] == {"bind": "/data", "mode": "ro"}
    assert {m["mountPath"] for m in c["volumeMounts"]} - {"/tmp"} == {v if isinstance(v, str) else v["bind"] for v in docker["volumes"].values()}
    assert host["dns"] == pod["spec"]["dnsConfig"]["nameservers"]


def _weaken(change):
    """The pod settings with one control taken out (what a careless edit of hub/kube/objects.py would do)."""
    real = kube_spawner_module.pod_settings

    def settings(spec):
        s = real(spec)
        change(s)
        return s

    return settings


CONTROLS = {
    "capabilities": (lambda s: s["container_security_context"].pop("capabilities"), "capabilities not all dropped"),
    "added capability": (lambda s: s["container_security_context"].update(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}), "capabilities added"),
    "privilege escalation": (lambda s: s.update(allow_privilege_escalation=True) or s["container_security_context"].pop("allowPrivilegeEscalation"), "privilege escalation allowed"),
    "read-only root": (lambda s: s["container_security_context"].pop("readOnlyRootFilesystem"), "root file system writable"),
    "non-root": (lambda s: [d.pop("runAsNonRoot") for d in (s["container_security_context"], s["pod_security_context"])], "may run as root"),
    "seccomp": (lambda s: [d.pop("seccompProfile") for d in (s["container_security_context"], s["pod_security_context"])], "seccomp"),
    "memory limit": (lambda s: s.update(mem_limit=None), "no memory limit"),
    "cpu limit": (lambda s: s.update(cpu_limit=None), "no cpu limit"),
    "read-only data": (lambda s: s["volume_mounts"][0].update(readOnly=False), "/data is writable"),
    "read-only data claim": (lambda s: s["volumes"][0]["persistentVolumeClaim"].update(readOnly=False), "/data is writable"),
    "service-account token": (lambda s: s.update(automount_service_account_token=True), "service-account token"),
    "no cluster DNS": (lambda s: s["extra_pod_config"].pop("dnsPolicy"), "resolver"),
    "no host paths": (lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/"}}), "only claims and emptyDir"),
    # Attack (careless operator): a claim of the namespace that is not the sandbox's (the egress quarantine,
    # another project's extracts) mounted read-only passed every check: only the sandbox's own claims may be
    "the sandbox's claims only": (lambda s: s["volumes"].append({"name": "q", "persistentVolumeClaim": {
        "claimName": "sandkasse-egress-data", "readOnly": True}}) or s["volume_mounts"].append(
        {"name": "q", "mountPath": "/q", "readOnly": True}), "is not one of the sandbox's"),
    "this project's extracts only": (lambda s: s["volumes"][0]["persistentVolumeClaim"].update(
        claimName="sandkasse-extracts-another-project"), "is not one of the sandbox's"),
}


@pytest.mark.parametrize("control", sorted(CONTROLS))
def test_control_removed_the_spawner_refuses_the_pod(tmp_path, monkeypatch, control):
    change, problem = CONTROLS[control]
    monkeypatch.setattr(kube_spawner_module, "pod_settings", _weaken(change))
    with pytest.raises(web.HTTPError) as refused:
        render(tmp_path)
    assert refused.value.status_code == 500 and problem in refused.value.jupyterhub_message


def test_hub_configuration_cannot_undo_the_policy(tmp_path):
    """extra_container_config is applied by KubeSpawner after the policy; the check runs after it."""
    with pytest.raises(web.HTTPError) as refused:
        render(tmp_path, extra_container_config={"securityContext": {"privileged": True}})
    assert "privileged" in refused.value.jupyterhub_message


def test_the_project_network_policy(tmp_path):
    async def go():
        return (await kube_render.spawner(tmp_path)).network_policy(PROJECT)

    np = asyncio.run(go())
    kube_render.validate(np)
    spec = np["spec"]
    assert spec["podSelector"] == {"matchLabels": {"org.sandkasse.project": PROJECT, "org.sandkasse.role": "notebook"}}
    assert spec["policyTypes"] == ["Ingress", "Egress"]  # both: a policy without Egress leaves egress open
    hub = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "sandkasse-hub"}}}
    egress = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "sandkasse-egress"}}}
    # in: only the hub (the meter sits there between the proxy and every notebook), only the notebook port
    assert spec["ingress"] == [{"from": [hub], "ports": [{"protocol": "TCP", "port": 8888}]}]
    # out: only the hub API and the egress service; no DNS, no address block, no namespace
    assert spec["egress"] == [
        {"to": [hub], "ports": [{"protocol": "TCP", "port": 8081}]},
        {"to": [egress], "ports": [{"protocol": "TCP", "port": 8090}]},
    ]


class FakeNetworking:
    """Stands in for the Kubernetes API's NetworkingV1Api (no cluster here): records what it is asked."""

    def __init__(self, existing=None):
        self.existing = existing
        self.calls: list[tuple[str, object]] = []

    async def read_namespaced_network_policy(self, name, namespace):
        self.calls.append(("read", name))
        if self.existing is None:
            raise ApiException(status=404)
        return self.existing

    async def create_namespaced_network_policy(self, namespace, body):
        self.calls.append(("create", body))

    async def replace_namespaced_network_policy(self, name, namespace, body):
        self.calls.append(("replace", body))


def _ensure(tmp_path, monkeypatch, existing):
    api = FakeNetworking(existing)
    monkeypatch.setattr(kube_spawner_module, "shared_client", lambda kind: api)

    async def go():
        sp = await kube_render.spawner(tmp_path)
        await sp.ensure_project_network(PROJECT)
        return sp.network_policy(PROJECT)

    return api, asyncio.run(go())


def test_the_network_policy_is_made_and_an_edited_one_put_back(tmp_path, monkeypatch):
    api, want = _ensure(tmp_path, monkeypatch, None)
    assert api.calls == [("read", want["metadata"]["name"]), ("create", want)]
    opened = {**want, "spec": {**want["spec"], "egress": [*want["spec"]["egress"], {"ports": [{"protocol": "UDP", "port": 53}]}]}}
    api, want = _ensure(tmp_path, monkeypatch, opened)
    assert api.calls[-1] == ("replace", want)
    api, want = _ensure(tmp_path, monkeypatch, want)
    assert [c[0] for c in api.calls] == ["read"]  # as the policy wants: left alone


def test_a_project_without_its_extracts_claim_is_refused(tmp_path):
    async def go():
        sp = await kube_render.spawner(tmp_path)

        async def missing(name, namespace):
            raise ApiException(status=404)

        sp.api = SimpleNamespace(read_namespaced_persistent_volume_claim=missing)  # stands in for the API server
        await sp.check_extracts(PROJECT)

    with pytest.raises(web.HTTPError) as refused:
        asyncio.run(go())
    assert refused.value.status_code == 409 and "no data extract" in refused.value.jupyterhub_message


def test_the_welcome_notebook_is_written_by_a_restricted_init_container(tmp_path):
    """As on Docker (hub/workspace.py): the researcher's user, no capabilities, the workspace claim only."""
    import base64
    import json

    from hub.kube.objects import workspace_writer

    async def go(weaken=None):
        sp = await kube_render.spawner(tmp_path)
        spec = sp.apply_sandbox(PROJECT)
        writer = workspace_writer(spec, sp.image, {"Welcome.ipynb": b'{"cells": []}'})
        if weaken:
            weaken(writer)
        sp.init_containers = [writer]
        return kube_render.as_pod(await sp.get_pod_manifest())

    pod = asyncio.run(go())
    kube_render.validate(pod)
    (init,) = pod["spec"]["initContainers"]
    assert init["securityContext"] == pod["spec"]["containers"][0]["securityContext"]
    assert init["volumeMounts"] == [{"name": "workspace", "mountPath": "/home/researcher"}]
    from hub.workspace import WRITER

    assert init["command"] == ["python3", "-I", "-c", WRITER]  # the script as Docker's writer runs it
    env = {e["name"]: e["value"] for e in init["env"]}
    payload = json.loads("".join(v for k, v in sorted(env.items()) if k.startswith("SANDKASSE_WS_")))
    assert payload["dir"] == "/home/researcher" and base64.b64decode(payload["files"]["Welcome.ipynb"]) == b'{"cells": []}'
    with pytest.raises(web.HTTPError) as refused:  # control removed: a writer without the restrictions is never sent
        asyncio.run(go(lambda w: w.pop("securityContext")))
    assert "container workspace-writer" in refused.value.jupyterhub_message
