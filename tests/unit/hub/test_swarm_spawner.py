"""ProjectSwarmSpawner renders the sandbox policy of ProjectDockerSpawner (the shared SandboxSpec) as a
Swarm service on an internal, attachable, encrypted overlay; a rendering without a control is never
sent. The services run for real on the three-engine test bed (tests/e2e/swarm/)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from tornado import web

from hub.policy import security_policy
from hub.sandbox import sandbox_spec
from hub.sandbox_settings import docker_host_config
from hub.spawner import docker_options
from hub.swarm.objects import overlay_network_options, problems, task_template

PROJECT = "sick-leave-2026"


def _spec():
    return sandbox_spec(security_policy(), project=PROJECT, user="ingrid", network=f"sandkasse-ovl-{PROJECT}",
                        extracts=f"/srv/extracts/{PROJECT}", workspace="sandkasse-ws-ingrid--x", shared="sandkasse-shared-x")  # fmt: skip


def _template():
    return task_template(_spec(), image="sandkasse/notebook:latest", env={"A": "b"}, constraints=["node.role == worker"])


def test_the_service_carries_every_control():
    t = _template()
    c, limits = t["ContainerSpec"], t["Resources"]["Limits"]
    box = security_policy().sandbox
    assert problems(t) == []
    assert c["CapabilityDrop"] == ["ALL"] and c["CapabilityAdd"] == [] and c["ReadOnly"] is True
    assert c["User"] == f"{box.uid}:{box.gid}" and c["Init"] is True
    assert c["DNSConfig"]["Nameservers"] == [str(a) for a in security_policy().network.sandbox_dns]
    assert c["Sysctls"] == {"net.ipv6.conf.all.disable_ipv6": "1"}
    assert limits["Pids"] == box.pids and limits["NanoCPUs"] == int(box.cpus * 1e9)
    data = next(m for m in c["Mounts"] if m["Target"] == "/data")
    assert data["ReadOnly"] is True and data["Type"] == "bind" and data["Source"] == f"/srv/extracts/{PROJECT}"
    assert {m["Target"]: m["Type"] for m in c["Mounts"]}["/tmp"] == "tmpfs"
    assert t["Networks"] == [{"Target": f"sandkasse-ovl-{PROJECT}"}]
    assert t["Placement"]["Constraints"] == ["node.role == worker"]
    assert c["Labels"]["org.sandkasse.role"] == "notebook"


def test_docker_and_swarm_render_the_same_policy():
    spec = _spec()
    host, opts, t = docker_host_config(spec), docker_options(spec), _template()
    c = t["ContainerSpec"]
    assert host["cap_drop"] == c["CapabilityDrop"] and host["read_only"] == c["ReadOnly"]
    assert host["pids_limit"] == t["Resources"]["Limits"]["Pids"] and host["dns"] == c["DNSConfig"]["Nameservers"]
    assert opts["extra_create_kwargs"]["user"] == c["User"] and opts["extra_create_kwargs"]["labels"] == c["Labels"]
    assert {v["bind"] if isinstance(v, dict) else v for v in opts["volumes"].values()} == {
        m["Target"] for m in c["Mounts"] if m["Type"] != "tmpfs"}  # fmt: skip


@pytest.mark.parametrize(
    "undo, problem",
    [
        (lambda t: t["ContainerSpec"].update(CapabilityDrop=[]), "capabilities not all dropped"),
        (lambda t: t["ContainerSpec"].update(CapabilityAdd=["NET_ADMIN"]), "capabilities added"),
        (lambda t: t["ContainerSpec"].update(ReadOnly=False), "root file system writable"),
        (lambda t: t["ContainerSpec"].update(User="0:0"), "runs as root"),
        (lambda t: t["Resources"]["Limits"].pop("Pids"), "no Pids limit"),
        (lambda t: t["Resources"]["Limits"].pop("MemoryBytes"), "no MemoryBytes limit"),
        (lambda t: next(m for m in t["ContainerSpec"]["Mounts"] if m["Target"] == "/data").update(ReadOnly=False), "/data is writable"),
        (lambda t: t["ContainerSpec"]["Mounts"].append({"Type": "bind", "Source": "/", "Target": "/host"}), "host path mounted"),
        (lambda t: t["ContainerSpec"].pop("DNSConfig"), "no sandbox DNS"),
        (lambda t: t["Networks"].append({"Target": "ingress"}), "not exactly one network"),
    ],
)
def test_control_removed_the_rendering_has_a_problem(undo, problem):
    t = _template()
    undo(t)
    assert any(problem in p for p in problems(t)), problems(t)


def test_the_project_overlay_is_internal_attachable_and_encrypted():
    opts = overlay_network_options(PROJECT)
    assert opts["driver"] == "overlay" and opts["internal"] is True and opts["attachable"] is True
    assert opts["options"] == {"encrypted": "true"}
    assert opts["labels"] == {"org.sandkasse.project": PROJECT, "org.sandkasse.role": "project-network"}


def test_hub_configuration_cannot_undo_the_policy():
    from hub.swarm.spawner import ProjectSwarmSpawner

    async def go():
        sp = ProjectSwarmSpawner(
            user=SimpleNamespace(name="ingrid", id=7, url="/user/ingrid/", escaped_name="ingrid"),
            orm_spawner=SimpleNamespace(name=PROJECT, server=None), extra_container_spec={"CapabilityAdd": ["SYS_ADMIN"]},
        )  # fmt: skip
        sent = []

        async def docker(method, *args, **kwargs):
            sent.append(method)
            return []

        sp._spec, sp.docker = _spec(), docker
        sp.get_env = lambda: {}

        async def command():
            return ["jupyterhub-singleuser"]

        sp.get_command = command
        with pytest.raises(web.HTTPError) as refused:
            await sp.create_object()
        return refused.value, sent

    err, sent = asyncio.run(go())
    assert err.status_code == 500 and "capabilities added" in err.log_message and "create_service" not in sent


def _swarm_spawner(**config):
    from hub.swarm.spawner import ProjectSwarmSpawner

    return ProjectSwarmSpawner(
        user=SimpleNamespace(name="ingrid", id=7, url="/user/ingrid/", escaped_name="ingrid"),
        orm_spawner=SimpleNamespace(name=PROJECT, server=None), **config,
    )


@pytest.mark.parametrize("existing_ok", [True, False])
def test_the_project_overlay_is_made_or_an_impostor_refused(existing_ok):
    """Made with the policy's options when missing; an existing network of that name that is not an
    internal, attachable, encrypted sandbox overlay is refused (500), never used."""
    from docker.errors import NotFound

    calls = []
    good = {"Driver": "overlay", "Internal": True, "Attachable": True, "Options": {"encrypted": ""},
            "Labels": {"org.sandkasse.role": "project-network"}, "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}]}}  # fmt: skip
    impostor = {**good, "Internal": False}

    async def fake_docker(method, *args, **kwargs):
        calls.append((method, args, kwargs))
        if method == "inspect_network":
            if existing_ok and not any(c[0] == "create_network" for c in calls):
                raise NotFound("no such network")
            return good if existing_ok else impostor
        return {}

    async def go():
        sp = _swarm_spawner()
        sp.docker = fake_docker
        await sp.ensure_project_network(PROJECT)
        return sp

    if existing_ok:
        sp = asyncio.run(go())
        created = next(c for c in calls if c[0] == "create_network")
        assert created[2]["internal"] and created[2]["attachable"] and created[2]["options"] == {"encrypted": "true"}
        assert sp.network_name == f"sandkasse-ovl-{PROJECT}" and sp.project_subnet == "10.9.0.0/24"
    else:
        with pytest.raises(web.HTTPError) as refused:
            asyncio.run(go())
        assert refused.value.status_code == 500


def test_the_hub_and_egress_containers_join_each_project_overlay_once():
    """``attach_containers`` are connected to the overlay (notebooks reach them by name there); one already
    on it is left alone."""
    net = {"Id": "net1", "Driver": "overlay", "Internal": True, "Attachable": True, "Options": {"encrypted": ""},
           "Labels": {"org.sandkasse.role": "project-network"}, "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}]}}  # fmt: skip
    on_it = {"hub": {"NetworkSettings": {"Networks": {"ovl": {"NetworkID": "net1"}}}},
             "egress": {"NetworkSettings": {"Networks": {"bridge": {"NetworkID": "other"}}}}}  # fmt: skip
    connected = []

    async def fake_docker(method, *args, **kwargs):
        if method == "inspect_network":
            return net
        if method == "inspect_container":
            return on_it[args[0]]
        if method == "connect_container_to_network":
            connected.append(args)
        return {}

    sp = _swarm_spawner(attach_containers=["hub", "egress"])
    sp.docker = fake_docker
    asyncio.run(sp.ensure_project_network(PROJECT))
    assert connected == [("egress", "net1")]


def test_the_node_agent_service_is_global_in_the_nodes_network_with_network_powers_only():
    from hub.swarm.agent_service import agent_service

    spec = agent_service("img", token_secret_id="s1", token_secret_name="tok")
    task, c = spec["task_template"], spec["task_template"]["ContainerSpec"]
    assert spec["mode"].mode == "global" and [n["Target"] for n in task["Networks"]] == ["host"]
    assert c["CapabilityDrop"] == ["ALL"] and c["CapabilityAdd"] == ["NET_ADMIN", "NET_RAW"] and c["ReadOnly"]
    assert c["Secrets"][0]["File"]["Mode"] == 0o400 and "/run/secrets/tok" in c["Command"]
    # Healthy only while its firewall is complete: the check asks the agent itself.
    assert c["Healthcheck"]["Test"][:4] == ["CMD", "python3", "-m", "hub.node_agent.healthcheck"]


def test_the_agent_health_check_fails_without_an_agent(tmp_path):
    from hub.node_agent.healthcheck import main

    token = tmp_path / "token"
    token.write_text("x" * 40)
    assert main(["--socket", str(tmp_path / "none.sock"), "--token-file", str(token)]) == 1
