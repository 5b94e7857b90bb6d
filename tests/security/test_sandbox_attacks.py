"""Attacks from inside a researcher's sandbox, on the real Docker engine with containers spawned by a
real hub (issue 6's probes live in tests/e2e/hub/test_isolation.py; these are the rest): other
containers through /proc, mounting, raw sockets, DNS, the hub API with the server's own token, the
identity provider and the database, and fork and memory bombs next to a neighbour.

Every address probed was created by the test: the project network's gateway (a bridge the hub made for
this test's project), containers the test started, and a listener the test opened. Three controls are
also removed (a container without the hardening, a network without the firewall) to show the same
attack then succeeds."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from hubtest import RUN

pytestmark = pytest.mark.e2e

PROBES = Path(__file__).parent / "probes"


def run_script(container: str, name: str, args: dict | None = None, timeout: float = 90, check: bool = True):
    """Run ``probes/<name>.py`` inside ``container`` as the container's user; returns the process."""
    argv = ["docker", "exec", "-i", "-e", f"PROBE_ARGS={json.dumps(args or {})}", container, "python3", "-"]
    proc = subprocess.run(argv, input=(PROBES / f"{name}.py").read_text(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed in {container} ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sandboxes(hub, provisioner):
    a = provisioner.open_project("atk-a", {"alice": "researcher"})
    a2 = provisioner.open_project("atk-a2", {"alice": "researcher"})
    b = provisioner.open_project("atk-b", {"bob": "researcher"})
    return {"a": a, "a2": a2, "b": b, "alice": hub.start_server("alice", a), "bob": hub.start_server("bob", b)}


def _gateway(hub, user: str, project: str) -> str:
    c = hub.container(user, project)
    c.reload()
    return c.attrs["NetworkSettings"]["Networks"][f"sandkasse-net-{project}"]["Gateway"]


def _is_address_of_bridge(addr: str, bridge: str) -> None:
    """``addr`` is this host's own address on ``bridge`` (a bridge the test created), nothing else."""
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", bridge], capture_output=True, text=True, check=True).stdout
    assert f" inet {addr}/" in shown, shown


@pytest.fixture(scope="module")
def own_network_box(docker_client, base_image):
    """A container on an ordinary network the test creates: a name and an address that must stay
    unknown and unreachable from the sandbox."""
    net = docker_client.networks.create(f"sandkasse-test-atk-{RUN}", driver="bridge", labels={"org.sandkasse.test": RUN})
    box = docker_client.containers.run(base_image, ["sleep", "600"], detach=True, network=net.name,
                                       name=f"sandkasse-test-atk-target-{RUN}")
    yield box.name
    box.remove(force=True)
    net.remove()


def test_attacks_from_inside_the_sandbox_fail(hub, sandboxes, own_network_box, keycloak, postgres_server):
    gateway = _gateway(hub, "alice", sandboxes["a"])
    bob = hub.container("bob", sandboxes["b"])
    bob_env = dict(e.split("=", 1) for e in bob.attrs["Config"]["Env"])
    kc_port = urlparse(keycloak.url).port
    calls = [
        ["self", "GET", "/user", None],
        ["list users", "GET", "/users", None],
        ["read bob", "GET", "/users/bob", None],
        ["start alice's other project", "POST", f"/users/alice/servers/{sandboxes['a2']}", {}],
        ["start alice on bob's project", "POST", f"/users/alice/servers/{sandboxes['b']}", {}],
        ["start bob's server", "POST", f"/users/bob/servers/{sandboxes['b']}", {}],
        ["stop bob's server", "DELETE", f"/users/bob/servers/{sandboxes['b']}", None],
        ["mint a new token", "POST", "/users/alice/tokens", {"scopes": ["admin:users"]}],
        ["hub admin info", "GET", "/info", None],
    ]
    out = last_json(run_script(sandboxes["alice"], "attacks", {
        "foreign_markers": [sandboxes["b"], bob_env["SANDKASSE_EGRESS_TOKEN"][-24:]],
        "names": [own_network_box, bob.name, "sandkasse-bob"],
        "gateway": gateway,
        "hub_calls": calls,
        "host_ports": [kc_port, postgres_server.port, 5432, 8180, 22],
    }))
    # /proc shows only this container's processes, and no other project's environment
    assert out["foreign_env_hits"] == [], out
    assert out["pids_visible"] < 100, out
    assert out["kcore"] in {"EACCES", "EPERM", "ENOENT"}, out
    # no mounts, no new namespaces, no raw sockets
    assert out["mount_tmpfs"] == "EPERM", out
    assert out["unshare_userns"] in {"EPERM", "EINVAL", "ENOSPC"}, out
    assert out["raw_icmp"] == "EPERM" and out["packet"] == "EPERM", out
    # DNS: the embedded resolver only; no name outside this network resolves, the host's port 53 is closed
    assert out["resolv_conf"] == ["127.0.0.11"], out
    assert all(not isinstance(v, list) for v in out["resolve"].values()), out
    assert out["dns_gateway"] in {"timeout", "ECONNREFUSED", "EHOSTUNREACH"}, out
    # the server's token works for itself, and for nothing else
    api = out["hub_api"]
    assert api["self"] == 200, api
    for label, status in api.items():
        if label != "self":
            assert status in (403, 404), (label, status, api)
    assert hub.container("bob", sandboxes["b"]).status == "running"
    with hub.api() as admin:
        servers = admin.get("/users/alice").json().get("servers") or {}
    assert sandboxes["a2"] not in servers and sandboxes["b"] not in servers, servers
    # the identity provider, the database and other host services are not reachable
    assert all(v in {"timeout", "ECONNREFUSED", "EHOSTUNREACH"} for v in out["host_ports"].values()), out


def _neighbour_ok(container: str) -> float:
    """The neighbour starts 20 processes and answers; returns how long it took."""
    t0 = time.monotonic()
    proc = subprocess.run(["docker", "exec", container, "python3", "-c",
                           "import subprocess; [subprocess.run(['true'], check=True) for _ in range(20)]; print('ok')"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    return time.monotonic() - t0


def test_fork_bomb_is_stopped_by_the_pids_limit_and_the_neighbour_is_unharmed(hub, sandboxes, docker_client):
    pids_limit = hub.container("alice", sandboxes["a"]).attrs["HostConfig"]["PidsLimit"]
    argv = ["docker", "exec", "-i", "-e", f"PROBE_ARGS={json.dumps({'max': 2000, 'hold': 8})}", sandboxes["alice"], "python3", "-"]
    bomb = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bomb.stdin.write((PROBES / "forkbomb.py").read_text())
    bomb.stdin.close()
    first = json.loads(bomb.stdout.readline())
    during = _neighbour_ok(sandboxes["bob"])  # while alice's container is full of processes
    bomb.wait(timeout=60)
    assert first["error"] == "EAGAIN" and first["forked"] < pids_limit, first
    assert during < 30, during
    assert hub.container("alice", sandboxes["a"]).status == "running"


def test_memory_bomb_is_killed_inside_its_limit_and_the_neighbour_is_unharmed(hub, sandboxes):
    limit_mib = hub.container("alice", sandboxes["a"]).attrs["HostConfig"]["Memory"] // 2**20
    proc = run_script(sandboxes["alice"], "membomb", {"limit_mib": limit_mib + 1024}, timeout=120, check=False)
    reached = max([json.loads(line)["mib"] for line in proc.stdout.splitlines() if line.startswith("{")] or [0])
    assert proc.returncode in (137, -9) or "MemoryError" in proc.stderr, (proc.returncode, proc.stderr[-500:])
    assert reached <= limit_mib, (reached, limit_mib)
    _neighbour_ok(sandboxes["bob"])
    assert hub.container("bob", sandboxes["b"]).status == "running"


# ---- controls removed: the same attacks succeed ------------------------------------------------------

@pytest.fixture(scope="module")
def plain_network(docker_client):
    """An --internal network as Docker makes it, without the hub's firewall chain (its bridge does not
    carry the sandbox prefix) and without removing the container's default route."""
    net = docker_client.networks.create(f"sandkasse-test-plain-{RUN}", driver="bridge", internal=True,
                                        labels={"org.sandkasse.test": RUN})
    yield net
    net.remove()


@pytest.fixture
def plain_box(docker_client, notebook_image, plain_network):
    made = []

    def make(**kwargs):
        c = docker_client.containers.run(notebook_image, ["sleep", "300"], detach=True, network=plain_network.name,
                                         name=f"sandkasse-test-plain-{RUN}-{len(made)}", labels={"org.sandkasse.test": RUN},
                                         **kwargs)
        made.append(c)
        c.reload()
        return c

    yield make
    for c in made:
        c.remove(force=True)


def test_control_removed_default_capabilities_as_root_open_raw_sockets(plain_box):
    box = plain_box(user="0:0")  # no `user: 1000`, no `cap_drop: ALL`
    out = last_json(run_script(box.name, "attacks", {"gateway": "127.0.0.1", "names": [], "host_ports": []}))
    assert out["raw_icmp"] == "opened", out


def test_control_removed_no_pids_limit_lets_the_fork_bomb_grow_past_the_sandbox_limit(plain_box, hub, sandboxes):
    pids_limit = hub.container("alice", sandboxes["a"]).attrs["HostConfig"]["PidsLimit"]
    box = plain_box(user="1000:1000", mem_limit="1g")
    out = last_json(run_script(box.name, "forkbomb", {"max": pids_limit + 100, "hold": 1}, timeout=120))
    assert out["forked"] == pids_limit + 100 and out["error"] is None, out


def test_control_removed_without_the_firewall_a_host_service_is_reachable(plain_box, plain_network):
    """Docker's --internal alone: the container still reaches a host listener on 0.0.0.0 through its
    bridge (the trap the hub's firewall chain and default-route removal close)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(4)
    accepted: list[str] = []

    def serve() -> None:
        srv.settimeout(15)
        try:
            conn, addr = srv.accept()
            accepted.append(addr[0])
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        box = plain_box(user="1000:1000", cap_drop=["ALL"])
        plain_network.reload()
        gateway = plain_network.attrs["IPAM"]["Config"][0]["Gateway"]
        _is_address_of_bridge(gateway, f"br-{plain_network.id[:12]}")
        out = last_json(run_script(box.name, "attacks", {"gateway": gateway, "names": [], "host_ports": [srv.getsockname()[1]]}))
        t.join(16)
        assert out["host_ports"][str(srv.getsockname()[1])] == "connected", out
        assert accepted, "the host listener saw no connection"
    finally:
        srv.close()
