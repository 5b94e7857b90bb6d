"""The node agent as a global swarm service (``hub/swarm/agent_service.py``) on the three-engine test
bed: one healthy task on every node, the sandbox firewall present in each node's own iptables, put back
when a rule is removed, and ``sandkasse doctor`` naming any node without a healthy agent. Without the
network capabilities no agent becomes healthy and the doctor names every node (control)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from docker.types import Mount

from hub.policy import security_policy
from hub.swarm.agent_service import agent_service, nodes_without_agent
from sandkasse.settings import REPO_ROOT
from swarmbed import SwarmBed, python_path

pytestmark = pytest.mark.e2e

CHAIN = security_policy().network.chain


def _start(bed: SwarmBed, image: str, secret, name: str, socket_dir: str, **kwargs) -> str:
    for node in bed.nodes:
        node.container.exec_run(["mkdir", "-p", socket_dir])  # a folder of the node's own, as /run/sandkasse-agent on a host
    spec = agent_service(image, token_secret_id=secret.id, token_secret_name=secret.name, socket_dir=socket_dir,
                         env={"PYTHONPATH": python_path()}, extra_mounts=[Mount(str(REPO_ROOT), str(REPO_ROOT), type="bind", read_only=True)],
                         recheck_seconds=2, **kwargs)  # fmt: skip
    bed.manager.client.api.create_service(name=name, **spec)
    return name


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(1)


@pytest.fixture(scope="module")
def agents(bed: SwarmBed) -> Iterator[tuple[str, object]]:
    image = bed.distribute(bed.node_image, "node")
    secret = bed.manager.client.secrets.create(name=f"sandkasse-agent-token-{bed.run}", data=secrets.token_urlsafe(40).encode())
    service = _start(bed, image, secret, f"sandkasse-node-agent-{bed.run}", "/run/sandkasse-agent")
    api = bed.manager.client.api
    _wait_for(lambda: nodes_without_agent(api, service) == [], 240,
              f"agent not healthy on every node: {[t['Status'] for t in api.tasks(filters={'service': service})]}")
    yield service, secret, image
    api.remove_service(service)


def _rules(node) -> list[str]:
    res = node.container.exec_run(["iptables", "-w", "5", "-S", CHAIN])
    return res.output.decode().splitlines() if res.exit_code == 0 else []


def test_every_node_runs_a_healthy_agent_and_has_the_firewall(bed: SwarmBed, agents):
    service, _, _ = agents
    assert nodes_without_agent(bed.manager.client.api, service) == []
    for node in bed.nodes:
        assert len(_rules(node)) > 1, node.name  # the chain and its rules, in the node's own network namespace
        jump = node.container.exec_run(["iptables", "-w", "5", "-S", "DOCKER-USER"]).output.decode()
        assert "-j DROP" in jump, (node.name, jump)  # sandbox bridges cut off from everything else


def test_the_agent_puts_back_a_rule_removed_on_a_worker(bed: SwarmBed, agents):
    worker = bed.workers[0]
    before = _rules(worker)
    # Flushed and listed in one go: the agent re-checks every 2 s and may already have put it back
    # by the next call, which is what the test waits for below.
    res = worker.container.exec_run(["sh", "-c", f"iptables -w 5 -F {CHAIN} && iptables -w 5 -S {CHAIN} | wc -l"])
    assert res.exit_code == 0, res.output
    _wait_for(lambda: len(_rules(worker)) == len(before), 30, "the agent did not reinstall the firewall")


def test_doctor_checks_every_node(bed: SwarmBed, agents, monkeypatch):
    from sandkasse.doctor import check_swarm_node_agents
    from sandkasse.settings import get_settings

    service, secret, image = agents
    monkeypatch.setenv("DOCKER_HOST", f"unix://{bed.manager.sock_dir}/docker.sock")
    monkeypatch.setenv("SANDKASSE_SWARM_AGENT_SERVICE", service)
    ok = check_swarm_node_agents(get_settings())
    assert ok.ok, ok.detail
    # Control: an agent that cannot touch iptables (no NET_ADMIN, NET_RAW) never becomes healthy anywhere.
    powerless = _start(bed, image, secret, f"sandkasse-node-agent-nocap-{bed.run}", "/run/sandkasse-agent-nocap", capabilities=())
    api = bed.manager.client.api
    try:
        _wait_for(lambda: any(t["Status"]["State"] in ("failed", "shutdown", "starting") for t in api.tasks(filters={"service": powerless})),
                  90, "the powerless agent's tasks never started")  # fmt: skip
        time.sleep(10)  # past its health check's first verdicts
        monkeypatch.setenv("SANDKASSE_SWARM_AGENT_SERVICE", powerless)
        bad = check_swarm_node_agents(get_settings())
        assert not bad.ok and all(node.name in bad.detail for node in bed.nodes), bad.detail
    finally:
        api.remove_service(powerless)
