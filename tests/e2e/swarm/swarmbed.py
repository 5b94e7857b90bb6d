"""A Docker Swarm of three engines, each in a container of the host's engine, for the multi-node tests.

The host's own engine is never put into swarm mode: other tests run on it at the same time, and
``swarm init`` adds networks (``ingress``, ``docker_gwbridge``) whose address pools would collide with
theirs. So the manager is an engine in a container too. Each node runs Debian's ``dockerd`` from a
variant of the local base image (``sandkasse.stack.base_image``, packages below), with every
capability but ``SYS_RESOURCE`` (which the host's engine does not hold, so ``--privileged`` fails
here), the host's cgroups, its ``/var/lib/docker`` in a host folder (overlay2 on the host's file
system: overlay on the container's own overlay is refused, and ``vfs`` copies every layer) and
``--no-new-privileges`` (a swarm service cannot ask for it on a 20.10 engine). Images reach the
workers through Debian's ``docker-registry`` in a container of its own on the test bed's network.
The node image also carries what the hub's and egress service's containers on the manager need
(HAProxy for the Docker API filter, configurable-http-proxy; their Python is this checkout's venv,
mounted). Everything is the test's own and removed at the end.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.base_image import ensure_base_image

NODE_PACKAGES = ["docker.io", "iptables", "iproute2", "docker-registry", "procps",
                 "haproxy", "node-configurable-http-proxy", "node-fast-safe-stringify"]
REGISTRY_CONFIG = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /tmp/registry\nhttp:\n  addr: :5000\n"
SERVICE_UID = 10001  # the hub's and the egress service's user, as in their images
EXTRACTS = "/srv/sandkasse-extracts"  # the read-only export every node mounts (NFS/CephFS on a real swarm)


PROBE = r"""
import json, os, socket, sys
out = {}
routes = open("/proc/net/route").read().splitlines()[1:]
out["default_route"] = any(l.split()[1] == "00000000" for l in routes if l.split())
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
out["cap_eff"] = status["CapEff"].strip(); out["no_new_privs"] = status.get("NoNewPrivs", "").strip()
out["uid"] = os.getuid()
def writable(p):
    try:
        open(p, "w").close(); return True
    except OSError:
        return False
out["root_writable"] = writable("/probe"); out["data_writable"] = writable("/data/probe")
out["data"] = sorted(os.listdir("/data"))
def reach(host, port):
    try:
        socket.create_connection((host, int(port)), timeout=3).close(); return True
    except OSError as e:
        return str(e)
out["reach"] = {t: reach(*t.rsplit(":", 1)) for t in sys.argv[1:]}
print(json.dumps(out))
"""


def python_path() -> str:
    """PYTHONPATH for the node image's Python (Debian's 3.11) to run this checkout with its venv's
    packages; the venv's own interpreter may live where a container cannot follow (pyenv under /root)."""
    return f"{REPO_ROOT}:{sysconfig.get_paths()['purelib']}"


def projects_dir() -> Path:
    """Where provisioning writes each project's extracts (``<var>/projects/<slug>/data``)."""
    from provisioning import api as papi

    return papi.extract_dir("swarm").parents[1]


def probe(container, *targets: str) -> dict:
    """``PROBE`` in a notebook container as its own user: routes, privileges, writable paths, and which
    of ``targets`` (``host:port``) it can open a connection to (True, or the error)."""
    res = container.exec_run(["python3", "-I", "-c", PROBE, *targets])
    assert res.exit_code == 0, res.output.decode(errors="replace")
    return json.loads(res.output.decode().strip().splitlines()[-1])


@dataclass
class Node:
    name: str
    container: object
    sock_dir: Path
    address: str = ""

    @property
    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=f"unix://{self.sock_dir}/docker.sock", timeout=120)


@dataclass
class SwarmBed:
    run: str
    host: docker.DockerClient
    network: object = None
    registry: object = None
    registry_host: str = ""
    nodes: list[Node] = field(default_factory=list)
    extracts: Path | None = None
    node_ids: dict[str, str] = field(default_factory=dict)  # node name -> swarm node id
    node_image: str = ""
    folders: list[Path] = field(default_factory=list)  # removed at stop, also after a failed start

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def workers(self) -> list[Node]:
        return self.nodes[1:]

    def start(self, workers: int = 2, same_path: dict[Path, str] | None = None) -> None:
        """``same_path``: host folders mounted at their own path in every node (``ro``/``rw``), as an NFS
        export would be on a real swarm, so a path the hub names is the same on the node that runs the task."""
        image = self.node_image = ensure_base_image(include=NODE_PACKAGES)
        labels = {"org.sandkasse.test": self.run}
        self.network = self.host.networks.create(f"sandkasse-test-swarm-{self.run}", driver="bridge", labels=labels)
        self.registry_host = f"sandkasse-test-swarm-{self.run}-registry:5000"
        self.registry = self.host.containers.run(
            image, ["sh", "-c", f"printf '{REGISTRY_CONFIG}' >/tmp/registry.yml && exec docker-registry serve /tmp/registry.yml"],
            name=f"sandkasse-test-swarm-{self.run}-registry", network=self.network.name, detach=True, labels=labels,
        )  # fmt: skip
        self.extracts = Path(tempfile.mkdtemp(prefix="sksw-x-", dir="/tmp"))
        self.folders.append(self.extracts)
        for i in range(1 + workers):
            sock_dir = Path(tempfile.mkdtemp(prefix=f"sksw{i}-", dir="/tmp"))  # unix socket paths: 107 bytes at most
            docker_root = Path(tempfile.mkdtemp(prefix=f"sksw{i}-root-", dir="/var/tmp"))
            self.folders += [sock_dir, docker_root]
            binds = {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                     str(sock_dir): {"bind": "/run/skd", "mode": "rw"},
                     str(docker_root): {"bind": "/var/lib/docker", "mode": "rw"},
                     str(self.extracts): {"bind": EXTRACTS, "mode": "ro"}}  # fmt: skip
            binds.update({str(path): {"bind": str(path), "mode": mode} for path, mode in (same_path or {}).items()})
            name = f"sandkasse-test-swarm-{self.run}-{i}"
            api = self.host.api
            host_config = api.create_host_config(
                network_mode=self.network.name, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
                security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                binds=binds, tmpfs={"/run": "", "/tmp": ""},
            )  # fmt: skip
            # `--security-opt systempaths=unconfined` in the API's words (docker-py has no argument):
            # the inner engine writes /proc/sys (forwarding, bridge settings).
            host_config["MaskedPaths"], host_config["ReadonlyPaths"] = [], []
            # Each engine also answers on its usual socket, inside its node: for the Docker API filter in
            # front of the manager's and the node agent on every node.
            sockets = ["-H", "unix:///run/skd/docker.sock", "-H", "unix:///var/run/docker.sock"]
            cid = api.create_container(
                image, ["dockerd", *sockets, "--no-new-privileges", "--insecure-registry", self.registry_host],
                name=name, hostname=name, labels=labels, host_config=host_config,
            )["Id"]  # fmt: skip
            api.start(cid)
            c = self.host.containers.get(cid)
            self.nodes.append(Node(name, c, sock_dir))
        for node in self.nodes:
            self._wait_engine(node)
            node.container.reload()
            node.address = node.container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"]
        mgr = self.manager.client
        mgr.swarm.init(advertise_addr=self.manager.address, listen_addr=f"{self.manager.address}:2377")
        token = mgr.swarm.attrs["JoinTokens"]["Worker"]
        for node in self.workers:
            node.client.swarm.join(remote_addrs=[f"{self.manager.address}:2377"], join_token=token, advertise_addr=node.address)
        deadline = time.monotonic() + 60
        while len([n for n in mgr.nodes.list() if n.attrs["Status"]["State"] == "ready"]) < len(self.nodes):
            if time.monotonic() > deadline:
                raise AssertionError("workers did not become ready")
            time.sleep(0.5)
        for n in mgr.nodes.list():
            self.node_ids[n.attrs["Description"]["Hostname"]] = n.id
            if n.attrs["Spec"]["Role"] == "worker":
                spec = dict(n.attrs["Spec"])
                spec["Labels"] = {**spec.get("Labels", {}), "org.sandkasse.notebooks": "true"}
                n.update(spec)

    def _wait_engine(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if node.client.ping():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                logs = node.container.logs(tail=20).decode(errors="replace")
                raise AssertionError(f"engine {node.name} did not start: {logs}")
            time.sleep(0.3)

    def load(self, tag: str):
        """``tag`` from the host's engine into the manager's (for what runs on the manager only)."""
        return self.manager.client.images.load(self.host.images.get(tag).save(named=True))[0]

    def distribute(self, tag: str, name: str = "test-notebook") -> str:
        """``tag`` from the host's engine into the manager and pushed to the registry; returns the name
        the workers pull it by."""
        loaded = self.load(tag)
        mgr = self.manager.client
        target = f"{self.registry_host}/sandkasse/{name}"
        loaded.tag(target, "latest")
        for line in mgr.images.push(target, "latest", stream=True, decode=True):
            if "error" in line:
                raise AssertionError(f"push to the test registry failed: {line['error']}")
        return f"{target}:latest"

    def node_of(self, hostname: str) -> Node:
        return next(n for n in self.nodes if n.name == hostname)

    def stop(self) -> None:
        for node in self.nodes:
            try:
                for svc in node.client.services.list() if node is self.manager else []:
                    svc.remove()
            except Exception:
                pass
        for c in [n.container for n in self.nodes] + [self.registry]:
            if c is not None:
                try:
                    c.remove(force=True, v=True)
                except docker.errors.APIError:
                    pass
        if self.network is not None:
            try:
                self.network.remove()
            except docker.errors.APIError:
                pass
        for path in self.folders:
            shutil.rmtree(path, ignore_errors=True)
