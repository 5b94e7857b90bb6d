"""Isolation of a spawned sandbox, probed from inside with the real Docker engine (issue 6, (a)-(h)).

Every address probed was created by this test: a target HTTP server on the test's own Docker network,
a listener the test opens on the host, the hub's API port, and the other project's container."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from provisioning import api as papi
from hubtest import RUN, ServerRefused, run_probe

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandboxes(hub, provisioner):
    a = provisioner.open_project("iso-a", {"alice": "researcher"})
    b = provisioner.open_project("iso-b", {"bob": "researcher"})
    return {
        "a": a,
        "b": b,
        "alice": hub.start_server("alice", a),
        "bob": hub.start_server("bob", b),
    }


@pytest.fixture(scope="module")
def target_server(docker_client, base_image):
    """An HTTP server on a separate, ordinary (non-internal) Docker network the test creates: what
    "somewhere outside the sandbox" looks like, without touching any address we do not own."""
    net = docker_client.networks.create(f"sandkasse-test-target-{RUN}", driver="bridge", labels={"org.sandkasse.test": RUN})
    box = docker_client.containers.run(
        base_image, ["python3", "-m", "http.server", "8000"], detach=True, network=net.name, name=f"sandkasse-test-target-{RUN}"
    )
    box.reload()
    ip = box.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    yield ip
    box.remove(force=True)
    net.remove()


@pytest.fixture(scope="module")
def host_listener():
    """A TCP listener on the host's 0.0.0.0 at a free port: a stand-in for any host service."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(16)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
                accepted.append(addr[0])
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    t.join(2)
    srv.close()


def _gateway_and_ip(hub, user, project):
    c = hub.container(user, project)
    c.reload()
    net = c.attrs["NetworkSettings"]["Networks"][f"sandkasse-net-{project}"]
    return net["Gateway"], net["IPAddress"]


def test_probes_from_inside_the_sandbox(hub, sandboxes, target_server, host_listener, docker_client):
    host_port, accepted = host_listener
    gateway, _ = _gateway_and_ip(hub, "alice", sandboxes["a"])
    _, bob_ip = _gateway_and_ip(hub, "bob", sandboxes["b"])
    # The host reaches the sandbox network over the bridge the hub created, never a default route.
    route = subprocess.run(["ip", "route", "get", bob_ip], capture_output=True, text=True, check=True).stdout
    assert " dev skbr-" in route, route
    other_paths = [f"/data/{f}" for f in ("iso-b-extract.parquet",)] + [str(papi.extract_dir(sandboxes["b"]))]
    out = run_probe(
        sandboxes["alice"],
        "isolation",
        {
            "other_paths": other_paths,
            "target": [target_server, 8000],
            "gateway": gateway,
            "host_port": host_port,
            "hub_port": hub.api_port,
            "other_container": bob_ip,
        },
    )
    # (a) /data is read-only, and holds this project's extract only
    assert out["write_data"] in {"EROFS", "EACCES"}, out
    assert out["data_files"] == ["iso-a-extract.parquet"], out
    # (b) not root, no capabilities, no way to gain privileges
    assert out["uid"] == 1000 and out["euid"] == 1000, out
    assert int(out["cap_eff"], 16) == 0 and int(out["cap_prm"], 16) == 0 and int(out["cap_bnd"], 16) == 0, out
    assert out["no_new_privs"] == "1", out
    # (c) project B's data does not exist here
    assert out["other_paths_exist"] == [], out
    # (d) no default route; the test's own outside server cannot be reached
    assert out["default_routes"] == [], out
    assert out["target"] in {"ENETUNREACH", "EHOSTUNREACH", "timeout"}, out
    # (d2) a host service on 0.0.0.0 is dropped by the firewall, the hub API is reachable
    assert out["host_listener"] in {"timeout", "ECONNREFUSED", "EHOSTUNREACH"}, out
    assert out["hub_api"] == "connected", out
    assert gateway not in accepted
    # (e) the other project's notebook is unreachable
    assert out["other_container"] in {"ENETUNREACH", "EHOSTUNREACH", "timeout"}, out
    # (g) no Docker socket
    assert out["docker_sock"] == [], out
    # the server's configuration is root-owned and the root file system read-only
    assert out["config_dir"] == "/etc/sandkasse/jupyter" and out["config_dir_writable"] is False, out
    assert out["home_writable"] is True, out
    assert out["rootfs"] in {"EROFS", "EACCES"}, out


def test_container_settings(hub, sandboxes):
    c = hub.container("alice", sandboxes["a"])
    c.reload()
    hc = c.attrs["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and not hc.get("CapAdd")
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Privileged"] is False
    assert hc["PidsLimit"] and hc["PidsLimit"] > 0
    assert hc["Memory"] > 0 and hc["CpuQuota"] > 0
    assert hc["ReadonlyRootfs"] is True
    mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert set(mounts) <= {"/data", "/home/researcher", "/shared"}, mounts
    assert mounts["/data"]["RW"] is False and mounts["/data"]["Source"] == str(papi.extract_dir(sandboxes["a"]))
    assert mounts["/home/researcher"]["Type"] == "volume"
    assert not any("docker.sock" in (m.get("Source") or "") for m in c.attrs["Mounts"])
    assert c.attrs["Config"]["User"] == "1000:1000"
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    assert env["SANDKASSE_PROJECT"] == sandboxes["a"] and env["SANDKASSE_USER"] == "alice"
    assert env["JUPYTER_CONFIG_DIR"] == "/etc/sandkasse/jupyter"
    assert env["SANDKASSE_EGRESS_URL"].endswith(f":{hub.egress_port}")
    net = hub.docker.networks.get(f"sandkasse-net-{sandboxes['a']}")
    assert net.attrs["Internal"] is True
    assert net.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert net.attrs["Options"]["com.docker.network.bridge.name"].startswith("skbr-")


def test_refusals_are_403_with_a_reason(hub, sandboxes):
    with pytest.raises(ServerRefused) as not_member:
        hub.start_server("alice", sandboxes["b"])
    assert not_member.value.status == 403 and "not a member" in not_member.value.body
    with pytest.raises(ServerRefused) as unknown:
        hub.start_server("alice", f"no-such-project-{RUN}")
    assert unknown.value.status == 403


def test_firewall_is_in_place(hub):
    from hub.firewall import SandboxFirewall

    fw = SandboxFirewall.from_policy({hub.api_port, hub.egress_port})
    assert fw.problems() == []


def test_egress_reachable_and_accepts_this_user_and_project_only(hub, sandboxes, provisioner, project_token_key):
    """(f) The egress endpoint is reachable from the sandbox, a table goes into the queue as (alice,
    project A), and neither a forged token nor a real token for a project alice is not in is accepted."""
    import jwt
    from sqlalchemy import select

    from egress_review.identity.project_token import issue_project_token
    from egress_review.models import ReleaseRequest

    forged = jwt.encode(
        {"iss": "sandkasse-hub", "aud": "sandkasse-egress-project", "sub": "alice", "project": sandboxes["b"],
         "iat": 0, "exp": 4102444800, "jti": "x"},
        "not-the-key-" * 4,
        algorithm="HS256",
    )
    foreign = issue_project_token("alice", sandboxes["b"], project_token_key.encode(), 600)
    out = run_probe(sandboxes["alice"], "export", {"extract": "iso-a-extract.parquet", "other_tokens": {"forged": forged, "foreign": foreign}}, timeout=300)
    assert out["me"]["username"] == "alice" and out["me"]["project"] == sandboxes["a"], out
    assert out["state"] == "submitted", out
    assert out["forged"] == 401, out
    assert out["foreign"] in {401, 403}, out
    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == out["request_id"])).scalar_one()
        assert (req.project, req.requester, req.state) == (sandboxes["a"], "alice", "submitted")
