"""A project token copied out of the sandbox opens nothing (issue 13.1 from the other side).

The token sits in the notebook's environment (``SANDKASSE_EGRESS_TOKEN``): one ``print`` shows it in
the researcher's browser, and it worked from anywhere for twelve hours, at the public proxy or straight
at the egress port. Through it the laptop read back, as "inside the sandbox", every quarantined file of
the project. The hub binds the token to the project network's subnet; the egress service checks the
TCP peer (never a forwarded address) against it.
"""

from __future__ import annotations

import pytest

from egress_review.identity.project_token import issue_project_token
from egress_review.states import FileKind
from tests.unit.egress.egress_factories import SAFE_CSV, TOKEN_KEY, app_client, researcher

pytestmark = pytest.mark.unit

SUBNET = "172.30.0.0/16"  # the project network
SANDBOX = ("172.30.0.7", 41000)  # the notebook container, straight at the gateway
LAPTOP = ("198.51.100.4", 50123)  # the researcher at home, straight at the egress port
PROXY = ("127.0.0.1", 52000)  # the public TLS proxy (a trusted proxy)


@pytest.fixture
def planted(env):
    """alice's draft with the extract as a never-submitted supporting file."""
    alice = researcher("alice", "alpha")
    with env.svc.sessions() as s:
        from egress_review import submission

        rid = submission.create_request(s, env.svc.audit, alice, title="t").id
        s.commit()
    fid = env.store_file(alice, rid, "notes.txt", SAFE_CSV.encode(), kind=FileKind.SUPPORTING)
    return env, f"/api/v1/requests/{rid}/files/{fid}/content"


def _read(env, peer, path: str, token: str, forwarded: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    with app_client(env.settings, client=peer) as client:
        r = client.get(path, headers=headers)
        assert r.status_code != 200 or r.content == SAFE_CSV.encode()
        return r.status_code


def test_a_bound_token_reads_from_the_sandbox_only(planted):
    env, path = planted
    token = issue_project_token("alice", "alpha", TOKEN_KEY.encode(), 600, network=SUBNET)
    assert _read(env, SANDBOX, path, token) == 200
    assert _read(env, LAPTOP, path, token) == 401
    # through the public proxy, whatever address it is told to forward
    assert _read(env, PROXY, path, token, forwarded=SANDBOX[0]) == 401
    assert _read(env, LAPTOP, path, token, forwarded=SANDBOX[0]) == 401


def test_control_removed_an_unbound_token_reads_the_file_from_the_laptop(planted):
    """What the hub issued before: the same read from the laptop succeeds, so the test above fails
    without the binding."""
    env, path = planted
    token = issue_project_token("alice", "alpha", TOKEN_KEY.encode(), 600)
    assert _read(env, LAPTOP, path, token) == 200


def test_the_spawner_binds_the_token_to_the_project_network(tmp_path):
    import asyncio
    from types import SimpleNamespace

    from egress_review.identity.project_token import peer_in_network, verify_project_token
    from hub.spawner import ProjectDockerSpawner

    spawner = ProjectDockerSpawner(project_token_key=TOKEN_KEY)
    spawner.user = SimpleNamespace(name="alice")
    bridge = spawner.bridge_name("alpha")

    async def docker(method, *args, **kwargs):
        assert method == "inspect_network"
        return {"Internal": True, "Options": {"com.docker.network.bridge.name": bridge},
                "IPAM": {"Config": [{"Subnet": SUBNET, "Gateway": "172.30.0.1"}]}}

    spawner.docker = docker
    gateway = asyncio.run(spawner.ensure_project_network("alpha"))
    token = spawner._sandbox_env("alpha", gateway)["SANDKASSE_EGRESS_TOKEN"]
    p = verify_project_token(token, TOKEN_KEY.encode())
    assert p.network == SUBNET
    assert peer_in_network(SANDBOX[0], p.network) and not peer_in_network(LAPTOP[0], p.network)


def test_on_kubernetes_a_copied_token_is_refused_through_the_ingress(planted):
    """Attack (curious researcher, Kubernetes): the token is bound to the cluster's pod range, and the
    ingress controller that relays the internet to the egress service is a pod in that range. Printed in
    the notebook and pasted on a laptop, the token reached the project's quarantined files through
    https://egress.../ as if from a sandbox. A relayed request (the proxy's forwarding headers) carries no
    project token; the notebook pod, calling the egress service directly, still reads."""
    env, path = planted
    pod_network = "10.244.0.0/16"
    token = issue_project_token("alice", "alpha", TOKEN_KEY.encode(), 600, network=pod_network)
    notebook_pod, ingress_pod = ("10.244.1.5", 41000), ("10.244.3.9", 52000)
    assert _read(env, notebook_pod, path, token) == 200
    assert _read(env, ingress_pod, path, token, forwarded=LAPTOP[0]) == 401
    with app_client(env.settings, client=ingress_pod) as client:  # nginx adds X-Real-IP as well
        r = client.get(path, headers={"Authorization": f"Bearer {token}", "X-Real-IP": LAPTOP[0]})
        assert r.status_code == 401 and SAFE_CSV.encode() not in r.content
