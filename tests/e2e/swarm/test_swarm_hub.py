"""The hub and the egress service inside the swarm (``swarmbed.py``): both run on the manager as
containers of an unprivileged user with no capabilities and no Docker socket; the hub reaches the
engine only through the Docker API filter (``images/hub/docker-api``, swarm mode) and starts a
researcher's notebook with ``ProjectSwarmSpawner`` through its REST API. The notebook (the real
notebook image, pulled from the test registry) lands on a worker, fails the isolation probes, and
exports a table through the egress service on the manager, across the project's overlay. The filter
refuses every service, volume and container definition that would hand out the host."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
from docker.types import ContainerSpec, DriverConfig, Mount, TaskTemplate

from sandkasse.keys import encode_key, generate_key
from sandkasse.settings import REPO_ROOT, get_settings
from swarmbed import SERVICE_UID, SwarmBed, probe, projects_dir, python_path

pytestmark = pytest.mark.e2e

HUB_PORT, EGRESS_PORT, FILTER_PORT = 8000, 8090, 2375
PYTHON = "python3"  # the node image's, with this checkout on its path (swarmbed.python_path)
EXPORT = (Path(__file__).resolve().parents[1] / "hub" / "probes" / "export.py").read_text()


def _route_is_the_beds(bed: SwarmBed, address: str) -> None:
    """Before the host connects to a node's address: its route is the test bed's own bridge."""
    bed.network.reload()
    bridge = f"br-{bed.network.id[:12]}"
    route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True, check=True).stdout
    assert f"dev {bridge}" in route, route


@dataclass
class Deployment:
    bed: SwarmBed
    hub: object  # container on the manager
    egress: object
    admin_token: str
    database: Path

    @property
    def hub_api(self) -> str:
        return f"http://{self.bed.manager.address}:{HUB_PORT}/hub/api"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.hub_api, headers={"Authorization": f"token {self.admin_token}"}, timeout=30, trust_env=False)


def _service_container(bed: SwarmBed, name: str, argv: list[str], env: dict[str, str], port: int, data: Path, network: str):
    """A service of the deployment on the manager: the node image, this checkout's venv, the
    services' user, no capability, read-only root, no Docker socket."""
    return bed.manager.client.containers.run(
        bed.node_image, argv, name=name, detach=True, user=f"{SERVICE_UID}:{SERVICE_UID}", environment={"HOME": "/tmp", "PYTHONPATH": python_path(), **env},
        volumes={str(REPO_ROOT): {"bind": str(REPO_ROOT), "mode": "ro"}, str(projects_dir()): {"bind": str(projects_dir()), "mode": "ro"},
                 str(data): {"bind": str(data), "mode": "rw"}},
        cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, tmpfs={"/tmp": ""}, working_dir=str(data),
        ports={f"{port}/tcp": port}, labels={"org.sandkasse.test": bed.run}, network=network,
    )  # fmt: skip


def _wait_http(url: str, container, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        container.reload()
        if container.status == "exited" or time.monotonic() > deadline:
            raise AssertionError(f"{container.name} did not answer at {url}: {container.logs(tail=40).decode(errors='replace')}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def deployment(bed: SwarmBed, swarm_data: Path) -> Iterator[Deployment]:
    from hub.images import ensure_notebook_image

    notebook_image = ensure_notebook_image()
    mgr = bed.manager.client
    bed.load(bed.node_image)
    notebook = bed.distribute(notebook_image, "notebook")
    _route_is_the_beds(bed, bed.manager.address)
    # The Docker API filter in front of the manager's engine, in swarm mode, host paths only below the extracts.
    cfg = REPO_ROOT / "images" / "hub" / "docker-api"
    bed.manager.container.exec_run(["sh", "-c", f"mkdir -p /etc/sandkasse && cp {cfg}/haproxy.cfg /etc/sandkasse/docker-api.cfg && "
                                    f"exec bash {cfg}/sandkasse-docker-api.sh >/tmp/docker-api.log 2>&1"],
                                   environment={"SANDKASSE_DOCKER_API_SWARM": "1", "SANDKASSE_DATA_DIR": str(projects_dir())}, detach=True)  # fmt: skip
    filtered = docker.APIClient(base_url=f"tcp://{bed.manager.address}:{FILTER_PORT}", version="1.41", timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            filtered.ping()
            break
        except Exception:  # not listening yet: refused, reset or an API error
            assert time.monotonic() < deadline, bed.manager.container.exec_run(["cat", "/tmp/docker-api.log"]).output
            time.sleep(0.3)
    # The services' own network on the manager (a user-defined one, so they resolve names through the
    # engine's DNS, also on the overlays they join later); its gateway is the filter's address.
    services = mgr.networks.create(f"sandkasse-services-{bed.run}", driver="bridge")
    ipam = services.attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    database = swarm_data / "sandkasse.db"
    key, admin_token = secrets.token_urlsafe(40), secrets.token_hex(24)
    common = {"SANDKASSE_DATABASE_URL": f"sqlite:///{database}", "SANDKASSE_PROJECT_TOKEN_KEY": key,
              "SANDKASSE_VAR_DIR": str(get_settings().var_dir)}  # fmt: skip
    for sub in ("hub", "egress", "audit-hub", "audit-egress"):
        (swarm_data / sub).mkdir(exist_ok=True)
        os.chown(swarm_data / sub, SERVICE_UID, SERVICE_UID)
    egress = _service_container(
        bed, f"sandkasse-egress-{bed.run}",
        [PYTHON, "-m", "uvicorn", "egress_review.app:create_app", "--factory", "--host", "0.0.0.0", "--port", str(EGRESS_PORT)],
        {**common, "SANDKASSE_MASTER_KEY": encode_key(generate_key()), "SANDKASSE_EGRESS_DIR": str(swarm_data / "egress"),
         "SANDKASSE_AUDIT_DIR": str(swarm_data / "audit-egress")},
        EGRESS_PORT, swarm_data, services.name,
    )  # fmt: skip
    _wait_http(f"http://{bed.manager.address}:{EGRESS_PORT}/healthz", egress)
    hub = _service_container(
        bed, f"sandkasse-hub-{bed.run}", [PYTHON, "-m", "hub.run"],
        {**common, "DOCKER_HOST": f"tcp://{gateway}:{FILTER_PORT}", "SANDKASSE_AUDIT_DIR": str(swarm_data / "audit-hub"),
         "SANDKASSE_HUB_SPAWNER": "project-swarm", "SANDKASSE_HUB_AUTHENTICATOR": "null", "SANDKASSE_HUB_ADMIN_TOKEN": admin_token,
         "SANDKASSE_HUB_STATE_DIR": str(swarm_data / "hub"), "SANDKASSE_HUB_PORT": str(HUB_PORT),
         "SANDKASSE_HUB_PUBLIC_URL": f"http://{bed.manager.address}:{HUB_PORT}", "SANDKASSE_HUB_NOTEBOOK_IMAGE": notebook,
         "SANDKASSE_SWARM_HUB_NAME": f"sandkasse-hub-{bed.run}", "SANDKASSE_SWARM_EGRESS_NAME": egress.name,
         "SANDKASSE_SWARM_EGRESS_PORT": str(EGRESS_PORT),
         # no ESP in this machine's kernel (test_swarm_isolation.py): the overlays are plain here
         "SANDKASSE_SWARM_ENCRYPT_OVERLAY": "false"},
        HUB_PORT, swarm_data, services.name,
    )  # fmt: skip
    try:
        _wait_http(f"http://{bed.manager.address}:{HUB_PORT}/hub/health", hub)
        yield Deployment(bed, hub, egress, admin_token, database)
    finally:
        for c in (hub, egress):
            print(f"--- {c.name}\n{c.logs(tail=60).decode(errors='replace')}")
            c.remove(force=True)
        filtered.close()


@pytest.fixture(scope="module")
def provisioner(deployment: Deployment, swarm_data: Path):
    from hubtest import Provisioner

    prov = Provisioner(f"sqlite:///{deployment.database}")
    yield prov
    prov.cleanup()


def _open_project(provisioner, name: str, members: dict[str, str], data: Path) -> str:
    slug = provisioner.open_project(name, members)
    for path in [data, *data.iterdir()]:
        if path.is_file():
            os.chown(path, SERVICE_UID, SERVICE_UID)  # the database the test wrote, for the services' user
    return slug


@pytest.fixture(scope="module")
def alices_notebook(deployment: Deployment, provisioner, swarm_data: Path) -> dict:
    slug = _open_project(provisioner, "swhub", {"alice": "researcher"}, swarm_data)
    with deployment.api() as api:
        api.post("/users/alice").raise_for_status()
        resp = api.post(f"/users/alice/servers/{slug}", json={})
        assert resp.status_code in (201, 202), resp.text
        deadline = time.monotonic() + 420
        while not ((api.get("/users/alice").json().get("servers") or {}).get(slug) or {}).get("ready"):
            assert time.monotonic() < deadline, deployment.hub.logs(tail=60).decode(errors="replace")
            time.sleep(1)
    mgr = deployment.bed.manager.client
    tasks = [t for t in mgr.api.tasks(filters={"label": f"org.sandkasse.project={slug}"}) if t["Status"]["State"] == "running"]
    assert len(tasks) == 1, tasks
    node = deployment.bed.node_of(mgr.nodes.get(tasks[0]["NodeID"]).attrs["Description"]["Hostname"])
    container = node.client.containers.get(tasks[0]["Status"]["ContainerStatus"]["ContainerID"])
    return {"slug": slug, "node": node, "container": container}


def test_notebook_started_by_the_hub_lands_on_a_worker_locked_in(deployment: Deployment, alices_notebook: dict):
    bed = deployment.bed
    assert alices_notebook["node"] in bed.workers
    bed.registry.reload()
    registry = bed.registry.attrs["NetworkSettings"]["Networks"][bed.network.name]["IPAddress"]
    got = probe(alices_notebook["container"], f"{registry}:5000", f"{bed.manager.address}:2377",
                f"{bed.manager.address}:{FILTER_PORT}", f"{bed.manager.address}:{HUB_PORT}")  # fmt: skip
    assert got["default_route"] is False
    assert got["cap_eff"] == "0000000000000000" and got["no_new_privs"] == "1" and got["uid"] == 1000
    assert got["root_writable"] is False and got["data_writable"] is False and got["data"] == ["swhub-extract.parquet"]
    # Not the registry, the swarm's control port, the Docker API filter or the hub's public port on the nodes' network.
    assert all(v is not True for v in got["reach"].values()), got["reach"]


def test_researcher_exports_through_egress_across_the_overlay(deployment: Deployment, alices_notebook: dict):
    box = alices_notebook["container"]
    env = {k.split("=", 1)[0]: k.split("=", 1)[1] for k in box.attrs["Config"]["Env"]}
    assert env["SANDKASSE_EGRESS_URL"] == f"http://{deployment.egress.name}:{EGRESS_PORT}"
    res = box.exec_run(["python3", "-c", EXPORT], environment={"PROBE_ARGS": json.dumps({"extract": "swhub-extract.parquet"})})
    assert res.exit_code == 0, res.output.decode(errors="replace")
    out = json.loads(res.output.decode().strip().splitlines()[-1])
    assert out["me"]["username"] == "alice" and out["me"]["project"] == alices_notebook["slug"], out["me"]
    with sqlite3.connect(deployment.database) as db:
        row = db.execute("SELECT project, requester, state FROM egress_requests WHERE id = ?", (out["request_id"],)).fetchone()
    assert row == (alices_notebook["slug"], "alice", out["state"]) and out["state"] != "draft", (row, out)


def test_the_hub_holds_no_root_no_capability_no_docker_socket(deployment: Deployment):
    hub = deployment.hub
    hub.reload()
    assert hub.attrs["Config"]["User"] == f"{SERVICE_UID}:{SERVICE_UID}"
    assert hub.attrs["HostConfig"]["CapDrop"] == ["ALL"] and not hub.attrs["HostConfig"]["Privileged"]
    assert not any("docker.sock" in (m.get("Source") or "") for m in hub.attrs["Mounts"])
    status = hub.exec_run(["cat", "/proc/1/status"]).output.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000" and fields["Uid"].split()[0] == str(SERVICE_UID)
    assert hub.exec_run(["test", "-e", "/var/run/docker.sock"]).exit_code != 0
    # The engine it talks to is the filter: a swarm call outside the allow-list is refused to the hub itself.
    code = "import docker,sys; c=docker.from_env(version='1.41'); sys.exit(0 if c.nodes.list() else 1)"
    res = hub.exec_run([PYTHON, "-c", code])
    assert res.exit_code != 0 and b"403" in res.output, res.output


@pytest.fixture(scope="module")
def filtered(deployment: Deployment) -> Iterator[docker.APIClient]:
    client = docker.APIClient(base_url=f"tcp://{deployment.bed.manager.address}:{FILTER_PORT}", version="1.41", timeout=30)
    yield client
    client.close()


def _status(call) -> int:
    try:
        call()
    except docker.errors.APIError as exc:
        return exc.status_code
    return 200


def _service(mounts=(), cap_add=None, networks=None) -> TaskTemplate:
    spec = ContainerSpec(image="none", args=["true"], mounts=list(mounts), user="1000:1000", cap_add=cap_add)
    return TaskTemplate(container_spec=spec, networks=networks)


def test_filter_refuses_services_volumes_and_calls_that_would_hand_out_the_host(filtered, deployment: Deployment):
    host_volume = DriverConfig("local", {"type": "none", "o": "bind", "device": "/"})
    refused = {
        "service adding a capability": lambda: filtered.create_service(_service(cap_add=["NET_ADMIN"])),
        "service binding /": lambda: filtered.create_service(_service([Mount("/host", "/", type="bind")])),
        "service binding the engine socket": lambda: filtered.create_service(_service([Mount("/s", "/var/run/docker.sock", type="bind")])),
        "service with a host-path volume": lambda: filtered.create_service(
            _service([Mount("/host", "skv", type="volume", driver_config=host_volume)])),
        "service on the host network": lambda: filtered.create_service(_service(networks=["host"])),
        "volume of a host path": lambda: filtered.create_volume("skv-host", driver="local", driver_opts=host_volume["Options"]),
        "container creating a host-path volume": lambda: filtered.create_container(
            "none", host_config=filtered.create_host_config(mounts=[Mount("/host", "skv", type="volume", driver_config=host_volume)])),
        "macvlan network": lambda: filtered.create_network("skn-mac", driver="macvlan"),
        "overlay with a way out": lambda: filtered.create_network("skn-open", driver="overlay", attachable=True),
        "node list": lambda: filtered.nodes(),
        "leaving the swarm": lambda: filtered.leave_swarm(force=True),
        "secrets": lambda: filtered.secrets(),
        "service update": lambda: filtered.update_service("sandkasse-none", 1, _service()),
        "exec": lambda: filtered.exec_create(deployment.hub.id, ["id"]),
    }
    got = {what: _status(call) for what, call in refused.items()}
    assert got == {what: 403 for what in refused}, got
    # What the spawner does passes: an overlay network (then removed) and the task list.
    net = filtered.create_network(f"skn-ovl-{deployment.bed.run}", driver="overlay", attachable=True, internal=True)
    filtered.remove_network(net["Id"])
    assert isinstance(filtered.tasks(), list)


def test_control_removed_the_engine_itself_accepts_a_host_path_volume(deployment: Deployment):
    """The same volume asked of the manager's engine directly is created: the refusal above is the filter's."""
    api = deployment.bed.manager.client.api
    name = f"skv-direct-{deployment.bed.run}"
    api.create_volume(name, driver="local", driver_opts={"type": "none", "o": "bind", "device": "/"})
    try:
        assert api.inspect_volume(name)["Options"]["device"] == "/"
    finally:
        api.remove_volume(name)
