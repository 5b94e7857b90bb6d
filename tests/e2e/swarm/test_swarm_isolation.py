"""The sandbox on a Docker Swarm of three engines (``swarmbed.py``): a notebook service rendered by
``hub/swarm/objects.py`` (what ``ProjectSwarmSpawner`` sends) lands on a worker, has no route out, no
capabilities, no new privileges, a read-only root and ``/data``, and cannot reach another project's
notebook on the other worker, while a container attached to its own overlay (where the hub sits)
reaches it. The notebook image is the base image with python3 (1.3 GB per node of the real notebook
image would make the test slow; the service definition is the same)."""

from __future__ import annotations

import secrets
import time

import pytest

from hub.policy import security_policy
from hub.sandbox import sandbox_spec
from hub.swarm.objects import overlay_network_options, problems, task_template
from swarmbed import EXTRACTS, SwarmBed, probe

pytestmark = pytest.mark.e2e

RUN = secrets.token_hex(3)
# This machine's kernel has no ESP (`ip xfrm` "function not implemented"): an encrypted overlay
# carries nothing between nodes here, so the test bed's overlays are plain. The spawner's default is
# encrypted (tests/unit/hub/test_swarm_spawner.py); encryption between nodes is not tested for real.
ENCRYPTED = False
CONSTRAINTS = ["node.role == worker", "node.labels.org.sandkasse.notebooks == true"]


def _project(bed: SwarmBed, project: str, worker: str | None = None) -> dict:
    """Overlay and notebook service of ``project`` (optionally pinned to one worker); returns the task's
    node, container id and overlay address once it runs."""
    mgr = bed.manager.client
    net = f"sandkasse-ovl-{project}"
    mgr.networks.create(net, **overlay_network_options(project, encrypted=ENCRYPTED))
    (bed.extracts / project).mkdir(exist_ok=True)
    (bed.extracts / project / "extract.csv").write_text("id,value\n1,2\n")
    spec = sandbox_spec(security_policy(), project=project, user="alice", network=net, extracts=f"{EXTRACTS}/{project}",
                        workspace=f"sandkasse-ws-alice--{project}", shared=None)  # fmt: skip
    constraints = CONSTRAINTS + ([f"node.hostname == {worker}"] if worker else [])
    template = task_template(spec, image=bed.image, env={"HOME": "/tmp"}, args=["python3", "-m", "http.server", "8888", "-d", "/tmp"],
                             constraints=constraints)  # fmt: skip
    assert problems(template) == []
    name = f"sandkasse-{project}"
    mgr.api.create_service(template, name=name, labels=dict(spec.labels))
    deadline = time.monotonic() + 150
    while True:
        tasks = mgr.api.tasks(filters={"service": name})
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        if running:
            task = running[0]
            break
        failed = [t["Status"].get("Err") for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
        if failed or time.monotonic() > deadline:
            raise AssertionError(f"notebook task of {project} did not run: {failed or [t['Status'] for t in tasks]}")
        time.sleep(0.5)
    hostname = mgr.nodes.get(task["NodeID"]).attrs["Description"]["Hostname"]
    address = next(a["Addresses"][0].split("/")[0] for a in task["NetworksAttachments"] if a["Network"]["Spec"]["Name"] == net)
    return {"node": bed.node_of(hostname), "container": task["Status"]["ContainerStatus"]["ContainerID"], "address": address, "network": net}


def _probe(box: dict, *targets: str) -> dict:
    return probe(box["node"].client.containers.get(box["container"]), *targets)


@pytest.fixture(scope="module")
def two_projects(bed):
    a = _project(bed, f"swa-{RUN}", worker=bed.workers[0].name)
    b = _project(bed, f"swb-{RUN}", worker=bed.workers[1].name)
    return a, b


def test_notebook_lands_on_a_worker_locked_in(bed, two_projects):
    a, b = two_projects
    assert a["node"] in bed.workers and b["node"] in bed.workers and a["node"] is not b["node"]
    bed.registry.reload()
    outside = bed.registry.attrs["NetworkSettings"]["Networks"][bed.network.name]["IPAddress"]
    got = _probe(a, f"{outside}:5000", f"{bed.manager.address}:2377", f"{b['address']}:8888")
    assert got["default_route"] is False
    assert got["cap_eff"] == "0000000000000000" and got["no_new_privs"] == "1" and got["uid"] == 1000
    assert got["root_writable"] is False and got["data_writable"] is False and got["data"] == ["extract.csv"]
    # Nothing outside the overlay: the registry and the swarm manager on the nodes' network, nor project B's
    # notebook on the other worker.
    assert all(v is not True for v in got["reach"].values()), got["reach"]


def test_the_overlay_carries_its_own_project_across_nodes(bed, two_projects):
    """The positive control: a container attached to project A's overlay on the manager (where the hub
    would sit) reaches A's notebook on a worker, so the refusals above are the network's doing."""
    a, _ = two_projects
    mgr = bed.manager.client
    hub = mgr.containers.run(bed.image, ["sleep", "120"], detach=True, network=a["network"], name=f"hub-standin-{RUN}")
    try:
        res = hub.exec_run(["python3", "-c", f"import socket; socket.create_connection(('{a['address']}', 8888), timeout=5); print('ok')"])
        assert res.output.decode().strip() == "ok", res.output
        net = mgr.networks.get(a["network"]).attrs
        assert net["Driver"] == "overlay" and net["Internal"] and net["Attachable"]
    finally:
        hub.remove(force=True)


def test_control_removed_a_non_internal_overlay_gives_the_notebook_a_way_out(bed):
    """Without ``--internal`` the swarm attaches the task to ``docker_gwbridge``: a default route, and
    the registry on the nodes' network answers. The internal overlay is what closes it."""
    mgr = bed.manager.client
    project = f"swc-{RUN}"
    opts = overlay_network_options(project, encrypted=ENCRYPTED)
    opts["internal"] = False
    net = f"sandkasse-ovl-{project}"
    mgr.networks.create(net, **opts)
    spec = sandbox_spec(security_policy(), project=project, user="alice", network=net, extracts=f"{EXTRACTS}/{project}",
                        workspace=f"sandkasse-ws-alice--{project}", shared=None)  # fmt: skip
    (bed.extracts / project).mkdir(exist_ok=True)
    template = task_template(spec, image=bed.image, env={"HOME": "/tmp"}, args=["sleep", "300"], constraints=CONSTRAINTS)
    mgr.api.create_service(template, name=f"sandkasse-{project}", labels=dict(spec.labels))
    deadline = time.monotonic() + 150
    while not (running := [t for t in mgr.api.tasks(filters={"service": f"sandkasse-{project}"}) if t["Status"]["State"] == "running"]):
        assert time.monotonic() < deadline, "task did not run"
        time.sleep(0.5)
    node = bed.node_of(mgr.nodes.get(running[0]["NodeID"]).attrs["Description"]["Hostname"])
    box = {"node": node, "container": running[0]["Status"]["ContainerStatus"]["ContainerID"]}
    bed.registry.reload()
    outside = bed.registry.attrs["NetworkSettings"]["Networks"][bed.network.name]["IPAddress"]
    got = _probe(box, f"{outside}:5000")
    assert got["default_route"] is True and got["reach"][f"{outside}:5000"] is True
