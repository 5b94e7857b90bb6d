"""The node agent (hub/node_agent/) on this host's Docker engine, run as a host process: a hub that
hands its privileged steps to the agent spawns a notebook with no default route behind a complete
firewall, and the agent refuses containers that are not sandbox notebooks of a sandbox network,
requests without the token, and volumes that are not workspaces. The containers and the network the
refusal tests use are the test's own."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx
import pytest

from hub.firewall import SandboxFirewall
from hub.node_agent.client import AgentClient, AgentError
from hub.policy import security_policy
from hubtest import RUN

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]


def _has_default_route(container) -> bool:
    """From the container's own /proc: a line with destination 00000000 is a default route."""
    out = container.exec_run(["cat", "/proc/net/route"]).output.decode()
    return any(line.split()[1] == "00000000" for line in out.splitlines()[1:] if line.split())


@pytest.fixture(scope="module")
def agent_paths():
    folder = Path(tempfile.mkdtemp(prefix="skagent-", dir="/tmp"))  # a unix socket path has 107 bytes at most
    token_file = folder / "token"
    token_file.write_text(secrets.token_urlsafe(40))
    token_file.chmod(0o600)
    yield folder / "agent.sock", token_file
    shutil.rmtree(folder, ignore_errors=True)


def start_agent(sock: Path, token_file: Path, ports: set[int], image: str, *extra: str):
    """The agent as a host process (in production: a privileged container, docs/deploy.md); returns
    the process, a client and its log once it answers."""
    log_path = sock.parent / f"agent-{sock.stem}.log"
    log = log_path.open("w")
    argv = [sys.executable, "-m", "hub.node_agent", "--socket", str(sock), "--token-file", str(token_file),
            "--notebook-image", image, *extra]  # fmt: skip
    for port in sorted(ports):
        argv += ["--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log.close()
    client = AgentClient(f"unix://{sock}", token_file.read_text().strip())
    deadline = time.monotonic() + 30
    while True:
        try:
            client.health()
            return proc, client, log_path
        except (httpx.HTTPError, AgentError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"node agent did not answer: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.1)


def stop_agent(proc) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# The hub without the powers the agent took over: no iptables, no entering another namespace.
WITHOUT_HOST_POWERS = ("setpriv", "--bounding-set", "-net_admin,-net_raw,-sys_admin,-sys_ptrace,-sys_module", "--")


@pytest.fixture(scope="module")
def agent_hub(hub_factory, egress_service, agent_paths, notebook_image):
    """A hub configured for the agent and run without NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE (it
    keeps the Docker socket), and the agent itself, admitting that hub's two ports."""
    sock, token_file = agent_paths
    hub = hub_factory("null", egress_port=egress_service, argv_prefix=WITHOUT_HOST_POWERS, extra_env={
        "SANDKASSE_HUB_NODE_AGENT_URL": f"unix://{sock}", "SANDKASSE_HUB_NODE_AGENT_TOKEN_FILE": str(token_file)})  # fmt: skip
    proc, client, log_path = start_agent(sock, token_file, {hub.api_port, hub.egress_port}, notebook_image, "--recheck", "2")
    yield hub, client, log_path
    stop_agent(proc)
    net = security_policy().network
    SandboxFirewall.from_policy().remove_ports({hub.api_port, hub.egress_port} - {net.hub_api_port, net.egress_port})


def test_notebook_isolated_by_the_agent(agent_hub, provisioner, docker_client):
    hub, client, log_path = agent_hub
    slug = provisioner.open_project("agent-a", {"alice": "researcher"})
    name = hub.start_server("alice", slug)
    box = docker_client.containers.get(name)
    assert not _has_default_route(box)
    # The agent, not the hub, removed it: its log names the container; and it reports the firewall complete.
    assert f"isolated {box.id[:12]}" in log_path.read_text()
    health = client.health()
    assert health["firewall_problems"] == []
    assert {hub.api_port, hub.egress_port} <= set(health["ports"])
    net = security_policy().network
    assert SandboxFirewall(net.chain, net.bridge_prefix, {hub.api_port, hub.egress_port}).problems() == []
    # The welcome notebook went in through the agent's workspace writer.
    assert box.exec_run(["test", "-f", "/home/researcher/Welcome.ipynb"]).exit_code == 0
    hub.stop_server("alice", slug)


def test_hub_process_holds_no_host_powers(agent_hub):
    hub, _, _ = agent_hub
    caps = int(next(ln for ln in Path(f"/proc/{hub.process.proc.pid}/status").read_text().splitlines() if ln.startswith("CapEff:")).split()[1], 16)
    for bit in (12, 13, 21, 19):  # NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE
        assert not caps & (1 << bit)


def test_control_removed_without_the_agent_that_hub_cannot_start_a_notebook(hub_factory, egress_service, provisioner, docker_client):
    """The same powerless hub acting itself (no agent) fails to install the firewall and starts
    nothing: the capabilities are really gone, so the notebook above was isolated by the agent."""
    from hubtest import ServerRefused

    hub = hub_factory("null", egress_port=egress_service, argv_prefix=WITHOUT_HOST_POWERS)
    slug = provisioner.open_project("agent-n", {"alice": "researcher"})
    with pytest.raises((ServerRefused, AssertionError)):
        hub.start_server("alice", slug, timeout=60)
    assert "iptables" in hub.process.log_path.read_text()
    assert docker_client.containers.list(all=True, filters={"label": [f"org.sandkasse.project={slug}", "org.sandkasse.role=notebook"]}) == []


def test_socket_is_the_hubs_only(agent_paths, agent_hub):
    sock, _ = agent_paths
    mode = sock.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    _, client, _ = agent_hub
    with pytest.raises(AgentError) as err:
        AgentClient(client.url, "not-the-token" * 4).health()
    assert err.value.status == 401


@pytest.fixture(scope="module")
def lookalikes(docker_client, base_image):
    """A sandbox-looking network of the test's own (internal, labelled, bridge with the policy's
    prefix) and an ordinary one, for containers that are almost, but not quite, sandbox notebooks."""
    net = security_policy().network
    project = f"agent-look-{RUN}"
    made = []
    sandbox_net = docker_client.networks.create(
        f"sandkasse-test-agentnet-{RUN}", driver="bridge", internal=True,
        options={"com.docker.network.bridge.name": f"{net.bridge_prefix}t{RUN}"},
        labels={"org.sandkasse.project": project, "org.sandkasse.role": "project-network", "org.sandkasse.test": RUN},
    )  # fmt: skip
    plain_net = docker_client.networks.create(f"sandkasse-test-agentplain-{RUN}", driver="bridge", labels={"org.sandkasse.test": RUN})

    def box(labels: dict[str, str], network) -> object:
        c = docker_client.containers.run(
            base_image, ["sleep", "300"], detach=True, network=network.name, labels={"org.sandkasse.test": RUN, **labels},
            name=f"sandkasse-test-agentbox-{RUN}-{len(made)}",
        )
        made.append(c)
        return c

    yield project, sandbox_net, plain_net, box
    for c in made:
        c.remove(force=True)
    sandbox_net.remove()
    plain_net.remove()


def _isolate(client: AgentClient, container: str) -> dict:
    import asyncio

    return asyncio.run(client.isolate(container))


def test_agent_isolates_a_notebook_on_its_sandbox_network(agent_hub, lookalikes):
    _, client, _ = agent_hub
    project, sandbox_net, _, box = lookalikes
    c = box({"org.sandkasse.role": "notebook", "org.sandkasse.project": project}, sandbox_net)
    assert _has_default_route(c)
    report = _isolate(client, c.name)
    assert report["container"] == c.id and report["default_routes"] == ""
    assert not _has_default_route(c)


def test_agent_refuses_a_container_without_the_notebook_label(agent_hub, lookalikes):
    _, client, _ = agent_hub
    project, sandbox_net, _, box = lookalikes
    c = box({"org.sandkasse.project": project}, sandbox_net)  # on a sandbox network, but no notebook
    with pytest.raises(AgentError) as err:
        _isolate(client, c.id)
    assert err.value.status == 403 and "not a sandbox notebook" in err.value.detail
    assert _has_default_route(c)  # untouched


def test_agent_refuses_a_notebook_off_a_sandbox_network(agent_hub, lookalikes):
    _, client, _ = agent_hub
    project, _, plain_net, box = lookalikes
    c = box({"org.sandkasse.role": "notebook", "org.sandkasse.project": project}, plain_net)  # labels lie
    with pytest.raises(AgentError) as err:
        _isolate(client, c.id)
    assert err.value.status == 403 and "not the internal sandbox network" in err.value.detail
    assert _has_default_route(c)


def test_agent_refuses_a_volume_that_is_not_a_workspace(agent_hub, docker_client):
    import asyncio

    _, client, _ = agent_hub
    vol = docker_client.volumes.create(f"sandkasse-test-agentvol-{RUN}", labels={"org.sandkasse.test": RUN})
    try:
        with pytest.raises(AgentError) as err:
            asyncio.run(client.write_workspace(vol.name, {"x.txt": b"x"}))
        assert err.value.status == 403
    finally:
        vol.remove(force=True)


def test_doctor_checks_each_agent(agent_hub, agent_paths, monkeypatch, tmp_path):
    from sandkasse.doctor import check_node_agents
    from sandkasse.settings import get_settings

    sock, token_file = agent_paths
    monkeypatch.setenv("SANDKASSE_HUB_NODE_AGENT_URL", f"unix://{sock}")
    monkeypatch.setenv("SANDKASSE_HUB_NODE_AGENT_TOKEN_FILE", str(token_file))
    ok = check_node_agents(get_settings())
    assert ok.ok and "firewall complete" in ok.detail
    monkeypatch.setenv("SANDKASSE_HUB_NODE_AGENT_URL", f"unix://{sock},unix://{tmp_path}/no-agent.sock")
    bad = check_node_agents(get_settings())
    assert not bad.ok and "no-agent.sock" in bad.detail


# A second agent on a throwaway chain and bridge prefix (nothing matches them; removed afterwards), so
# its firewall can be damaged without opening anything for the sandboxes of other tests on this host.
THROWAWAY_CHAIN, THROWAWAY_PREFIX = f"SKTEST-AG{RUN}", "skag-"


@pytest.fixture(scope="module")
def throwaway_agent(hub_factory, egress_service, agent_paths, notebook_image):
    """A hub whose agent knows another bridge prefix than the policy's: it refuses that hub's notebooks."""
    sock, token_file = agent_paths
    sock = sock.with_name("throwaway.sock")
    hub = hub_factory("null", egress_port=egress_service, extra_env={
        "SANDKASSE_HUB_NODE_AGENT_URL": f"unix://{sock}", "SANDKASSE_HUB_NODE_AGENT_TOKEN_FILE": str(token_file)})  # fmt: skip
    proc, client, _ = start_agent(sock, token_file, {hub.api_port, hub.egress_port}, notebook_image,
                                  "--recheck", "1", "--chain", THROWAWAY_CHAIN, "--bridge-prefix", THROWAWAY_PREFIX)  # fmt: skip
    yield hub, client
    stop_agent(proc)
    for binary, hooks in (("iptables", ("INPUT", "DOCKER-USER")), ("ip6tables", ("INPUT", "FORWARD"))):
        for hook in hooks:
            listing = subprocess.run([binary, "-w", "10", "-S", hook], capture_output=True, text=True).stdout.splitlines()
            for line in listing:
                if line.startswith("-A ") and f"{THROWAWAY_PREFIX}+" in line:
                    subprocess.run([binary, "-w", "10", "-D", *line.split()[1:]], check=False)
        subprocess.run([binary, "-w", "10", "-F", THROWAWAY_CHAIN], capture_output=True)
        subprocess.run([binary, "-w", "10", "-X", THROWAWAY_CHAIN], capture_output=True)


def test_the_agent_puts_back_a_removed_firewall_rule(throwaway_agent):
    _, client = throwaway_agent
    fw = SandboxFirewall(THROWAWAY_CHAIN, THROWAWAY_PREFIX, set(client.health()["ports"]))
    assert fw.problems() == []
    subprocess.run(["iptables", "-w", "10", "-D", THROWAWAY_CHAIN, "-j", "DROP"], check=True)
    assert fw.problems()
    deadline = time.monotonic() + 15
    while fw.problems():
        assert time.monotonic() < deadline, f"the agent did not put the rule back: {fw.problems()}"
        time.sleep(0.2)


def test_the_hub_does_not_start_a_notebook_the_agent_refused(throwaway_agent, provisioner, docker_client):
    """The hub waits for the agent's report: refused (the notebook's bridge is not one this agent
    guards), the notebook is stopped and never counts as started."""
    from hubtest import ServerRefused

    hub, _ = throwaway_agent
    slug = provisioner.open_project("agent-r", {"alice": "researcher"})
    with pytest.raises((ServerRefused, AssertionError)):
        hub.start_server("alice", slug, timeout=60)
    with hub.api() as api:
        server = (api.get("/users/alice").json().get("servers") or {}).get(slug)
    assert not server or not server.get("ready")
    left = docker_client.containers.list(all=True, filters={"label": [f"org.sandkasse.project={slug}", "org.sandkasse.role=notebook"]})
    assert left == []
    assert "node agent answered 403: network" in hub.process.log_path.read_text()  # refused for its network, nothing else


@pytest.fixture(scope="module")
def hub_image(docker_client) -> str:
    """Any local build of the hub image (its Debian iptables, nsenter and Python environment); built
    with the stack's images when there is none. This checkout's code is mounted over it."""
    for image in docker_client.images.list("sandkasse/hub"):
        if image.tags:
            return image.tags[0]
    from sandkasse.stack.compose import build_stack_images

    return build_stack_images().tags["SANDKASSE_HUB_IMAGE"]


def test_the_agent_runs_as_a_container_with_named_capabilities(docker_client, hub_image, agent_paths, lookalikes, agent_hub):
    """The agent as deployed (docs/deploy.md): a container in the host's network and PID namespaces
    with NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE and CHOWN only (not --privileged), the Docker
    socket and the socket folder. It installs the firewall and isolates a notebook."""
    _, token_file = agent_paths
    hub, _, _ = agent_hub
    folder = Path(tempfile.mkdtemp(prefix="skagent-c-", dir="/tmp"))
    shutil.copy(token_file, folder / "token")
    name = f"sandkasse-test-node-agent-{RUN}"
    agent = docker_client.containers.run(
        hub_image,
        ["-m", "hub.node_agent", "--socket", "/run/sandkasse/agent.sock", "--token-file", "/run/sandkasse/token",
         "--port", str(hub.api_port), "--port", str(hub.egress_port), "--recheck", "5"],
        entrypoint=["/opt/venv/bin/python"], name=name, detach=True, user="0",
        network_mode="host", pid_mode="host", cap_drop=["ALL"], cap_add=["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "CHOWN"],
        security_opt=["no-new-privileges:true"], read_only=True, environment={"PYTHONPATH": "/src"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}, str(folder): {"bind": "/run/sandkasse", "mode": "rw"},
                 str(ROOT): {"bind": "/src", "mode": "ro"}},
        labels={"org.sandkasse.test": RUN},
    )  # fmt: skip
    try:
        client = AgentClient(f"unix://{folder}/agent.sock", token_file.read_text().strip())
        deadline = time.monotonic() + 60
        while True:
            try:
                health = client.health()
                break
            except (httpx.HTTPError, AgentError):
                agent.reload()
                if time.monotonic() > deadline or agent.status == "exited":
                    raise AssertionError(f"agent container did not answer: {agent.logs(tail=30).decode(errors='replace')}") from None
                time.sleep(0.2)
        assert health["firewall_problems"] == []
        project, sandbox_net, _, box = lookalikes
        c = box({"org.sandkasse.role": "notebook", "org.sandkasse.project": project}, sandbox_net)
        assert _has_default_route(c)
        assert _isolate(client, c.id)["default_routes"] == ""
        assert not _has_default_route(c)
        outsider = box({"org.sandkasse.project": project}, sandbox_net)
        with pytest.raises(AgentError):
            _isolate(client, outsider.id)
    finally:
        agent.remove(force=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def docker_api_filter(docker_client):
    """The hub's Docker API filter (images/hub/docker-api) on a loopback port, allowing binds only
    under the projects' extract folders."""
    from sandkasse.settings import get_settings
    from sandkasse.stack.compose import build_docker_api_filter_image
    from sandkasse.stack.process import free_port, wait_until

    image = build_docker_api_filter_image()
    port = free_port()
    name = f"sandkasse-test-agent-filter-{RUN}"
    network = docker_client.networks.create(name, driver="bridge", labels={"org.sandkasse.test": RUN})
    container = docker_client.containers.run(
        image, detach=True, name=name, network=name, labels={"org.sandkasse.test": RUN},
        environment={"SANDKASSE_DATA_DIR": str(get_settings().var_dir / "projects")},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        ports={"2375/tcp": ("127.0.0.1", port)}, cap_drop=["ALL"], security_opt=["no-new-privileges:true"],
        read_only=True, tmpfs={"/run": "", "/tmp": ""},
    )  # fmt: skip
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", version="1.41", timeout=30)
    try:
        wait_until(lambda: client.ping(), timeout=30, what="docker-api filter")
        yield f"tcp://127.0.0.1:{port}", container
    finally:
        client.close()
        container.remove(force=True)
        network.remove()


def test_a_powerless_hub_behind_the_docker_api_filter_starts_an_isolated_notebook(
    hub_factory, egress_service, agent_paths, notebook_image, provisioner, docker_client, docker_api_filter
):
    """What issue 19 asks of the hub: no host powers and Docker only through the filter (which refuses
    privileged or host-sharing containers); the agent does the rest."""
    url, filter_container = docker_api_filter
    sock, token_file = agent_paths
    sock = sock.with_name("filtered.sock")
    hub = hub_factory("null", egress_port=egress_service, argv_prefix=WITHOUT_HOST_POWERS, extra_env={
        "DOCKER_HOST": url, "SANDKASSE_HUB_NODE_AGENT_URL": f"unix://{sock}",
        "SANDKASSE_HUB_NODE_AGENT_TOKEN_FILE": str(token_file)})  # fmt: skip
    proc, _, log_path = start_agent(sock, token_file, {hub.api_port, hub.egress_port}, notebook_image)
    try:
        slug = provisioner.open_project("agent-f", {"alice": "researcher"})
        box = docker_client.containers.get(hub.start_server("alice", slug))
        assert not _has_default_route(box)
        assert f"isolated {box.id[:12]}" in log_path.read_text()
        # The hub's calls went through the filter (its log has the container's creation).
        assert "/containers/create" in filter_container.logs().decode(errors="replace")
        hub.stop_server("alice", slug)
    finally:
        stop_agent(proc)
        net = security_policy().network
        SandboxFirewall.from_policy().remove_ports({hub.api_port, hub.egress_port} - {net.hub_api_port, net.egress_port})
