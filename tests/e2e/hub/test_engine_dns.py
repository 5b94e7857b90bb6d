"""The DNS way out of an internal network (CVE-2024-29018) is closed on this engine (issue 15, item 6).

The engine's embedded resolver forwards a name it does not know to the container's upstream resolver,
``--internal`` or not. The test serves its own zone on a resolver it starts on an address outside the
project network (a test network's gateway on the host), and:

- control removed: a container on an internal network whose upstream is that resolver (what the
  host's resolver is to an engine with the bug) gets its lookup through: the name arrives and resolves;
- with the control: the same container with the spawner's ``sandbox_dns`` sends nothing there;
- a sandbox started by the real hub sends nothing there either, nor to a resolver on its own gateway.

The engine's forwarding through the host's namespace (the CVE proper) needs a loopback resolver in the
host's ``/etc/resolv.conf``, which a test must not change; the sandbox's own upstream replaces that path.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hub.policy import security_policy
from hubtest import RUN, run_probe

pytestmark = pytest.mark.e2e

ANSWER = "192.0.2.99"
ZONE = "sandkasse-dns-test"
LOOKUP = (
    "import json, socket, sys, time\n"
    "t0 = time.monotonic()\n"
    "try:\n"
    "    out = socket.gethostbyname(sys.argv[1])\n"
    "except OSError as exc:\n"
    "    out = type(exc).__name__\n"
    "print(json.dumps({'result': out, 'seconds': round(time.monotonic() - t0, 2)}))\n"
)


def _qname(packet: bytes) -> str:
    labels, i = [], 12
    while i < len(packet) and packet[i]:
        n = packet[i]
        labels.append(packet[i + 1 : i + 1 + n].decode(errors="replace"))
        i += 1 + n
    return ".".join(labels)


def _answer(packet: bytes) -> bytes:
    """One A record for whatever was asked (enough for getaddrinfo through Docker's resolver)."""
    end = packet.index(b"\x00", 12) + 5  # question: name, type, class
    header = packet[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
    record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(ANSWER)
    return header + packet[12:end] + record


@contextmanager
def resolver(address: str) -> Iterator[list[str]]:
    """A tiny DNS server on ``address``:53 (UDP) that answers everything and records each name asked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 53))
    sock.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except OSError:
                continue
            asked.append(_qname(packet))
            try:
                sock.sendto(_answer(packet), peer)
            except (OSError, ValueError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@pytest.fixture(scope="module")
def outside_network(docker_client):
    """An internal network of the test's own (not a sandbox bridge, so no sandbox firewall rule applies);
    its gateway is a host address outside every project network, where the test's resolver listens."""
    net = docker_client.networks.create(
        f"sandkasse-test-dns-{RUN}", driver="bridge", internal=True,
        options={"com.docker.network.bridge.enable_icc": "false"}, labels={"org.sandkasse.test": RUN},
    )  # fmt: skip
    net.reload()
    yield net, net.attrs["IPAM"]["Config"][0]["Gateway"]
    net.remove()


def _lookup(docker_client, image: str, network: str, dns: list[str], name: str) -> dict:
    import json

    out = docker_client.containers.run(
        image, ["python3", "-c", LOOKUP, name], entrypoint=[], network=network, dns=dns, remove=True,
        user="1000:1000", cap_drop=["ALL"],
    )  # fmt: skip
    return json.loads(out.decode().strip().splitlines()[-1])


def _name() -> str:
    return f"leak-{secrets.token_hex(6)}.{ZONE}"


def test_control_removed_an_internal_network_forwards_lookups_to_a_reachable_resolver(docker_client, base_image, outside_network):
    net, gateway = outside_network
    name = _name()
    with resolver(gateway) as asked:
        out = _lookup(docker_client, base_image, net.name, [gateway], name)
    assert name in asked, (out, asked)
    assert out["result"] == ANSWER, out


def test_with_the_sandbox_dns_no_lookup_reaches_the_resolver(docker_client, base_image, outside_network):
    net, gateway = outside_network
    dns = [str(a) for a in security_policy().network.sandbox_dns]
    name = _name()
    with resolver(gateway) as asked:
        out = _lookup(docker_client, base_image, net.name, dns, name)
    assert asked == [], asked
    assert out["result"] != ANSWER, out


@pytest.fixture(scope="module")
def dns_sandbox(hub, provisioner):
    project = provisioner.open_project("dns", {"dora": "researcher"})
    container = hub.start_server("dora", project)
    yield project, container
    hub.stop_server("dora", project)


def test_a_spawned_sandbox_sends_no_lookup_out(hub, dns_sandbox, outside_network):
    project, container = dns_sandbox
    _, outside = outside_network
    box = hub.container("dora", project)
    box.reload()
    assert box.attrs["HostConfig"]["Dns"] == [str(a) for a in security_policy().network.sandbox_dns]
    gateway = box.attrs["NetworkSettings"]["Networks"][f"sandkasse-net-{project}"]["Gateway"]
    names = [_name() for _ in range(3)]
    with resolver(outside) as asked_outside, resolver(gateway) as asked_gateway:
        results = [run_probe(container, "dns_lookup", {"name": n}) for n in names]
    assert asked_outside == [] and asked_gateway == [], (asked_outside, asked_gateway)
    assert all(r["result"] != ANSWER for r in results), results
    assert all(r["seconds"] < 15 for r in results), results


def test_doctor_judges_this_engine(docker_client):
    """On the real engine: ``sandkasse doctor`` passes it only as fixed, or as affected and closed."""
    from hub.engine_check import engine_affected
    from sandkasse.doctor import check_engine_bugs
    from sandkasse.settings import get_settings

    version = docker_client.version()["Version"]
    result = check_engine_bugs(get_settings())
    assert result.ok, result
    expected = "is affected; closed by sandbox DNS" if engine_affected(version) else "has the fix"
    assert version in result.detail and expected in result.detail, result
