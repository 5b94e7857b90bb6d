"""deploy/kubernetes/: every object validates (strict JSON schema and the official client's models), and
the controls around the notebooks hold: restricted Pod Security on the namespace, default deny, no policy
that widens a notebook's network, unprivileged service pods, a hub role without secrets or exec.

No cluster runs here (issue 19.4): nothing is applied, only rendered and validated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kube_render
from hub.kube.checks import pod_problems

pytestmark = pytest.mark.unit
DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
NOTEBOOK_LABELS = {"org.sandkasse.project": "any", "org.sandkasse.role": "notebook", "app.kubernetes.io/name": "jupyterhub",
                   "component": "singleuser-server", "app.kubernetes.io/component": "singleuser-server"}


def objects() -> list[dict]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    out = []
    for name in kustomization["resources"]:
        out += [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]
    return out


def by_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects() if o["kind"] == kind}


def test_every_file_is_in_the_kustomization_and_every_object_validates():
    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    objs = objects()
    assert {o["kind"] for o in objs} >= {"Namespace", "NetworkPolicy", "Deployment", "Service", "Role", "RoleBinding",
                                          "ServiceAccount", "PersistentVolumeClaim", "Ingress"}
    for o in objs:
        kube_render.validate(o)
        assert o["kind"] == "Namespace" or o["metadata"]["namespace"] == "sandkasse"


def test_the_namespace_enforces_restricted_pod_security():
    labels = by_kind("Namespace")["sandkasse"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "matchExpressions: extend this test"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def test_nothing_but_the_default_deny_selects_notebook_pods():
    """NetworkPolicies add up: one more policy matching a notebook would widen its network beyond
    the per-project policy the hub makes (hub/kube/objects.py)."""
    policies = by_kind("NetworkPolicy")
    deny = policies.pop("default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}  # no rule: everything denied
    for name, p in policies.items():
        assert not _selects(p["spec"]["podSelector"], NOTEBOOK_LABELS), name
        assert set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}, name


def test_service_pods_are_unprivileged_with_limits():
    allowed = {
        # the hub talks to the API server with its token; services use the cluster's resolver
        "sandkasse-hub": {"pod: the service-account token is mounted (automountServiceAccountToken must be false)"},
        "sandkasse-egress": set(),
    }
    for name, d in by_kind("Deployment").items():
        template = d["spec"]["template"]
        problems = [p for p in pod_problems(template) if "resolver" not in p]
        assert set(problems) == allowed[name], (name, problems)
        assert template["spec"]["securityContext"]["runAsUser"] != 0


def test_the_hub_may_manage_notebooks_in_its_namespace_only():
    rules = by_kind("Role")["sandkasse-hub"]["rules"]
    resources = {r for rule in rules for r in rule["resources"]}
    verbs = {v for rule in rules for v in rule["verbs"]}
    assert resources == {"pods", "persistentvolumeclaims", "events", "networkpolicies"}
    assert "*" not in verbs and "*" not in resources and not {"secrets", "pods/exec", "pods/attach", "nodes"} & resources
    assert "ClusterRole" not in {o["kind"] for o in objects()} and "ClusterRoleBinding" not in {o["kind"] for o in objects()}


def test_notebooks_reach_the_services_at_the_addresses_the_hub_gives_them():
    services = by_kind("Service")
    env = {e["name"]: e.get("value") for e in by_kind("Deployment")["sandkasse-hub"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SANDKASSE_KUBE_HUB_CONNECT_URL"] == f"http://{services['sandkasse-hub-api']['spec']['clusterIP']}:8081"
    assert env["SANDKASSE_KUBE_EGRESS_URL"] == f"http://{services['sandkasse-egress']['spec']['clusterIP']}:8090"
    assert env["SANDKASSE_HUB_SPAWNER"] == "project-kube"


def test_the_hub_deployment_configures_the_kube_spawner(monkeypatch):
    """The hub's environment in hub.yaml is what hub/kube/config.py reads."""
    from traitlets.config import Config

    from hub.kube.config import configure

    env = {e["name"]: e["value"] for e in by_kind("Deployment")["sandkasse-hub"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    c = Config()
    configure(c, env["SANDKASSE_HUB_NOTEBOOK_IMAGE"])
    k = c.ProjectKubeSpawner
    assert c.JupyterHub.spawner_class == "hub.kube.spawner.ProjectKubeSpawner"
    assert (k.namespace, k.egress_url, k.hub_connect_url, k.pod_network) == (
        "sandkasse", env["SANDKASSE_KUBE_EGRESS_URL"], env["SANDKASSE_KUBE_HUB_CONNECT_URL"], env["SANDKASSE_KUBE_POD_NETWORK"])
