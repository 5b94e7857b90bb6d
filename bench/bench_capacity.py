"""Capacity of one node: what a researcher costs, how fast sandboxes start, what one egress replica serves.

Three measurements, each against real components on this machine, loopback only:

1. **Per researcher**: one notebook container of the real notebook image with the policy's settings
   (``hub.sandbox`` rendered by ``hub.spawner.docker_options``: limits, read-only root, no
   capabilities, read-only extracts, internal network), CPU and memory from ``docker stats``
   - idle: the Jupyter server with one started kernel, nobody typing;
   - busy: the same with a pandas analysis of a 500,000-row extract running in the container
     (group-bys, a crosstab and a merge in a loop), what a researcher's heavy cell does.
2. **Spawn rate**: a hardened hub (``ProjectDockerSpawner``, access checks, firewall, network, volumes,
   welcome notebook, route removal) starting N servers at once for N researchers; REST start to
   ``ready``; servers/minute on this node.
3. **Egress calls/s per replica**: 1, 2 and 4 egress service processes on one PostgreSQL sharing one
   quarantine folder; each researcher loops create, add file, upload (10 kB table), submit (each a
   call) with a project token, closed loop, for a fixed time. Two ways in, measured in the same run:
   ``direct`` (clients spread round-robin over the replicas) and ``balancer``: every client through one
   HAProxy in TCP mode (the docker-api image's HAProxy, in a container on the host's loopback),
   round-robin per connection, as notebooks reach a replicated egress service through one name (a
   swarm's virtual IP, a Kubernetes Service). TCP, not HTTP: a relaying HTTP proxy adds forwarding
   headers, and the egress service refuses project tokens that come through one (``egress_review/peer.py``).

    .venv/bin/python bench/bench_capacity.py [--parts notebook,spawn,egress] [--busy-seconds 20]
        [--spawns 4] [--replicas 1,2,4] [--via direct,balancer] [--egress-seconds 20] [--egress-clients 24]

Figures depend on what else runs on the machine: the load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from sandkasse.stack.process import free_port  # noqa: E402

BUSY_SCRIPT = r"""
import time, sys
import numpy as np, pandas as pd
df = pd.read_parquet("/data/episodes.parquet")
end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    a = df.groupby(["area", "year", "gender"])["days"].agg(["sum", "mean", "count"])
    b = pd.crosstab(df["area"], df["age_group"], values=df["days"], aggfunc="sum")
    c = df.merge(a.reset_index()[["area", "year", "gender", "mean"]], on=["area", "year", "gender"])
    n += 1
print(n)
"""


def make_extract(folder: Path, rows: int = 500_000) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    pd.DataFrame({
        "employee": rng.integers(0, 15_000, rows),
        "area": rng.choice([f"area_{i}" for i in range(12)], rows),
        "year": rng.integers(2019, 2026, rows),
        "gender": rng.choice(["K", "M"], rows),
        "age_group": rng.choice([f"{a}-{a + 9}" for a in range(20, 70, 10)], rows),
        "days": rng.integers(1, 60, rows),
    }).to_parquet(folder / "episodes.parquet")


def cpu_mem(stats: dict) -> tuple[float, float]:
    """(CPU in cores, memory in MiB) from one ``docker stats`` sample, as the docker CLI computes them."""
    cpu, pre = stats["cpu_stats"], stats["precpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or os.cpu_count()
    used = (cpu_delta / sys_delta) * cores if sys_delta > 0 else 0.0
    mem = stats["memory_stats"]
    inactive = (mem.get("stats") or {}).get("inactive_file", 0)
    return used, (mem.get("usage", 0) - inactive) / 2**20


def sample(container, seconds: float) -> list[tuple[float, float]]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(cpu_mem(container.stats(stream=False)))  # each sample spans about one second
    return out


def summary(samples: list[tuple[float, float]]) -> str:
    cpu = [c for c, _ in samples]
    mem = [m for _, m in samples]
    return (f"CPU {statistics.mean(cpu):6.3f} cores (max {max(cpu):.3f})   "
            f"memory {statistics.mean(mem):6.0f} MiB (max {max(mem):.0f})   [{len(samples)} samples]")


def bench_notebook(args) -> dict:
    from hub.images import ensure_notebook_image
    from hub.policy import security_policy
    from hub.sandbox import sandbox_environment, sandbox_spec
    from hub.spawner import docker_options
    from sandkasse.stack.docker_engine import ensure_docker

    client = ensure_docker()
    image = ensure_notebook_image()
    run = secrets.token_hex(3)
    policy = security_policy()
    extracts = Path(tempfile.mkdtemp(prefix="bench-capacity-data-"))
    os.chmod(extracts, 0o755)
    make_extract(extracts)
    os.chmod(extracts / "episodes.parquet", 0o644)
    labels = {"org.sandkasse.bench": run}
    net = client.networks.create(f"sandkasse-bench-cap-{run}", driver="bridge", internal=True, labels=labels)
    vol = client.volumes.create(f"sandkasse-bench-cap-ws-{run}", labels=labels)
    spec = sandbox_spec(policy, project="bench", user="bench", network=net.name, extracts=str(extracts),
                        workspace=vol.name, shared=None)
    opts = docker_options(spec)
    host = opts["extra_host_config"]
    token = secrets.token_hex(16)
    env = sandbox_environment(policy, project="bench", user="bench", egress_url="http://192.0.2.1:9")
    volumes = {src: (v if isinstance(v, dict) else {"bind": v, "mode": "rw"}) for src, v in opts["volumes"].items()}
    container = None
    try:
        container = client.containers.run(
            image, ["jupyter", "server", "--ip=0.0.0.0", "--port=8888", f"--IdentityProvider.token={token}", "--no-browser"],
            detach=True, name=f"sandkasse-bench-cap-{run}", network=net.name, environment=env, volumes=volumes,
            mem_limit=opts["mem_limit"], nano_cpus=int(opts["cpu_limit"] * 1e9),
            labels={**opts["extra_create_kwargs"]["labels"], **labels}, user=opts["extra_create_kwargs"]["user"],
            working_dir=opts["extra_create_kwargs"]["working_dir"], **host,
        )
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        base = f"http://{ip}:8888"
        h = {"Authorization": f"token {token}"}
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                if httpx.get(f"{base}/api/status", headers=h, timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"notebook server did not answer: {container.logs()[-2000:]!r}")
        server_up = time.monotonic() - t0
        r = httpx.post(f"{base}/api/kernels", headers=h, json={"name": "python3"}, timeout=30, trust_env=False)
        r.raise_for_status()
        time.sleep(5)  # the kernel finishes starting
        idle = sample(container, args.idle_seconds)
        result: dict[str, object] = {}

        def busy_run() -> None:
            out = container.exec_run(["python3", "-c", BUSY_SCRIPT, str(args.busy_seconds)], user=opts["extra_create_kwargs"]["user"])
            result["rounds"] = out.output.decode(errors="replace").strip().splitlines()[-1:]

        worker = threading.Thread(target=busy_run)
        worker.start()
        time.sleep(3)  # loading the extract
        busy = sample(container, max(3.0, args.busy_seconds - 5))
        worker.join(args.busy_seconds + 60)
        return {"server_up": server_up, "idle": idle, "busy": busy, "rounds": result.get("rounds"),
                "limits": (opts["cpu_limit"], opts["mem_limit"])}
    finally:
        if container is not None:
            container.remove(force=True)
        vol.remove(force=True)
        net.remove()
        shutil.rmtree(extracts, ignore_errors=True)


def bench_spawn(args) -> dict:
    import pandas as pd

    from bench_spawn import hub_env  # the same hub setup as the spawn benchmark
    from hub.firewall import SandboxFirewall
    from hub.images import ensure_notebook_image
    from hub.run import start_hub
    from provisioning import api as papi
    from provisioning import service
    from provisioning.db import session_factory
    from sandkasse.db import session_scope
    from sandkasse.stack.docker_engine import ensure_docker

    docker_client = ensure_docker()
    image = ensure_notebook_image()
    workdir = Path(tempfile.mkdtemp(prefix="bench-capacity-spawn-"))
    db_url = f"sqlite:///{workdir / 'sandkasse.db'}"
    slug = f"cap-{secrets.token_hex(3)}"
    users = [f"capuser{i}" for i in range(args.spawns)]
    with session_scope(session_factory(db_url)) as s:
        service.create_open_project(s, slug, {u: "researcher" for u in users}, title="Capacity benchmark")
    extracts = papi.extract_dir(slug)
    extracts.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"year": [2024, 2025], "value": [1.0, 2.0]}).to_parquet(extracts / "bench.parquet")
    env = hub_env(workdir, "hub", "project-docker", image, db_url)
    hub = None
    try:
        hub = start_hub(env)
        with hub.api() as api:
            for u in users:
                api.post(f"/users/{u}")

        def spawn(user: str, out: dict) -> None:
            with hub.api(timeout=120) as api:
                t = time.perf_counter()
                r = api.post(f"/users/{user}/servers/{slug}", json={})
                if r.status_code >= 400:
                    out[user] = f"refused {r.status_code}"
                    return
                while time.perf_counter() - t < 180:
                    s = (api.get(f"/users/{user}").json().get("servers") or {}).get(slug)
                    if s and s.get("ready"):
                        out[user] = time.perf_counter() - t
                        return
                    time.sleep(0.05)
                out[user] = "not ready in 180 s"

        def stop_all() -> None:
            with hub.api(timeout=120) as api:
                for u in users:
                    api.delete(f"/users/{u}/servers/{slug}")
                for _ in range(600):
                    if not any((api.get(f"/users/{u}").json().get("servers") or {}).get(slug) for u in users):
                        return
                    time.sleep(0.1)

        one: dict = {}
        spawn(users[0], one)  # warm-up: creates the project network; also the one-at-a-time figure
        stop_all()
        solo: dict = {}
        spawn(users[0], solo)
        stop_all()
        times: dict = {}
        t0 = time.perf_counter()
        threads = [threading.Thread(target=spawn, args=(u, times)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        wall = time.perf_counter() - t0
        stop_all()
        return {"solo": solo[users[0]], "times": times, "wall": wall, "n": len(users)}
    finally:
        if hub is not None:
            hub.stop()
        for c in docker_client.containers.list(all=True, filters={"label": f"org.sandkasse.project={slug}"}):
            c.remove(force=True)
        for n in docker_client.networks.list(filters={"label": f"org.sandkasse.project={slug}"}):
            n.remove()
        for v in docker_client.volumes.list(filters={"label": f"org.sandkasse.project={slug}"}):
            v.remove(force=True)
        SandboxFirewall.from_policy().remove_ports({int(env["SANDKASSE_HUB_API_PORT"]), int(env["SANDKASSE_HUB_EGRESS_PORT"])})
        shutil.rmtree(extracts.parent, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


BALANCER_CFG = """global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend egress
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
{servers}
"""


def start_balancer(ports: list[int], folder: Path):
    """HAProxy (TCP, round-robin) on a loopback port in front of the replicas; returns (container, port)."""
    import docker

    from sandkasse.stack.compose import build_docker_api_filter_image

    image = build_docker_api_filter_image()
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server r{i} 127.0.0.1:{p}" for i, p in enumerate(ports))
    (folder / "haproxy.cfg").write_text(BALANCER_CFG.format(port=port, servers=servers))
    folder.chmod(0o755)
    (folder / "haproxy.cfg").chmod(0o644)
    container = docker.from_env().containers.run(
        image, detach=True, entrypoint=["haproxy", "-db", "-f", "/cfg/haproxy.cfg"], network_mode="host",
        volumes={str(folder): {"bind": "/cfg", "mode": "ro"}}, cap_drop=["ALL"], name=f"bench-balancer-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, trust_env=False).status_code == 200:
                return container, port
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            logs = container.logs().decode(errors="replace")
            container.remove(force=True)
            raise RuntimeError(f"balancer did not answer: {logs}")
        time.sleep(0.3)


def bench_egress(args) -> list[dict]:
    from bench_egress import Recorder, make_table, provision, start_service, stop_service, user_client
    from egress_review.db import migrate
    from egress_review.identity.project_token import issue_project_token
    from sandkasse.stack.postgres_server import ensure_postgres

    pg = ensure_postgres(f"bench-capacity-{os.getpid()}", free_port(), durable=True)
    results = []
    try:
        url = pg.create_database()
        researchers = [f"cap-r{i:02d}" for i in range(args.egress_clients)]
        projects = {f"cap-p{p}": {r: "researcher" for r in researchers[p::4]} for p in range(4)}
        provision(url, projects)
        migrate(url)
        project_of = {r: slug for slug, ms in projects.items() for r in ms}
        key = secrets.token_urlsafe(32)
        tokens = {r: issue_project_token(r, project_of[r], key.encode(), 3600) for r in researchers}
        table = make_table(60, 1)  # ~2 kB
        table = (table * 5)[: 10_000]
        table = table[: table.rfind(b"\n") + 1]
        work = Path(tempfile.mkdtemp(prefix="bench-capacity-egress-"))
        env = {**os.environ, "SANDKASSE_DATABASE_URL": url, "SANDKASSE_VAR_DIR": str(work / "var"),  # one quarantine for all
               "SANDKASSE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(), "SANDKASSE_PROJECT_TOKEN_KEY": key,
               "SANDKASSE_KEYCLOAK_URL": "http://127.0.0.1:9", "SANDKASSE_KEYCLOAK_REALM": "unused"}
        runs = [(int(n), via) for n in args.replicas.split(",") for via in args.via.split(",")]
        for replicas, via in runs:
            procs, ports, balancer = [], [], None
            try:
                for i in range(replicas):
                    port = free_port()
                    procs.append(start_service(env, port, work / f"replica-{replicas}-{via}-{i}.log", 1))
                    ports.append(port)
                if via == "balancer":
                    balancer, lb_port = start_balancer(ports, work / f"balancer-{replicas}")
                rec = Recorder()

                async def researcher(i: int, r: str, deadline: float) -> None:
                    port = lb_port if balancer else ports[i % replicas]  # round-robin by client, or by the balancer
                    base = f"http://127.0.0.1:{port}"
                    async with user_client(base, {"Authorization": f"Bearer {tokens[r]}"}) as c:
                        while time.monotonic() < deadline:
                            q = await rec.call(c, "create", "POST", "/api/v1/requests", json={"title": "capacity"},
                                               headers={"Idempotency-Key": uuid.uuid4().hex})
                            if q is None:
                                continue
                            rid = q.json()["id"]
                            f = await rec.call(c, "add_file", "POST", f"/api/v1/requests/{rid}/files",
                                               json={"name": "table.csv", "context": "capacity", "controls": "none"})
                            if f is None:
                                continue
                            up = await rec.call(c, "upload", "PUT", f"/api/v1/requests/{rid}/files/{f.json()['id']}/content",
                                                content=table, headers={"Content-Type": "application/octet-stream"})
                            if up is None:
                                continue
                            await rec.call(c, "submit", "POST", f"/api/v1/requests/{rid}/submit")

                async def load() -> float:
                    await asyncio.gather(*(researcher(i, r, time.monotonic() + 3) for i, r in enumerate(researchers[:replicas * 2])))  # warm-up
                    rec.lat.clear()
                    rec.failures.clear()
                    t0 = time.perf_counter()
                    deadline = time.monotonic() + args.egress_seconds
                    await asyncio.gather(*(researcher(i, r, deadline) for i, r in enumerate(researchers)))
                    return time.perf_counter() - t0

                elapsed = asyncio.run(load())
                calls = sum(len(v) for v in rec.lat.values())
                lat = [x for v in rec.lat.values() for x in v]
                results.append({"replicas": replicas, "via": via, "calls": calls, "elapsed": elapsed, "rate": calls / elapsed,
                                "p50": statistics.median(lat) if lat else float("nan"),
                                "failed": sum(rec.failures.values()), "errors": rec.errors[:2]})
            finally:
                if balancer is not None:
                    balancer.remove(force=True)
                for p in procs:
                    stop_service(p)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        pg.remove()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="notebook,spawn,egress")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--busy-seconds", type=float, default=20)
    parser.add_argument("--spawns", type=int, default=4, help="servers started at once")
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument("--via", default="direct,balancer", help="how clients reach the replicas: direct, balancer or both")
    parser.add_argument("--egress-seconds", type=float, default=20)
    parser.add_argument("--egress-clients", type=int, default=24)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"node: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    lines = []
    if "notebook" in parts:
        nb = bench_notebook(args)
        cpus, mem = nb["limits"]
        lines += [
            f"per researcher (one notebook container, limits {cpus} core, {mem}; server up in {nb['server_up']:.1f} s):",
            f"  idle (server + one kernel)          {summary(nb['idle'])}",
            f"  busy (pandas on 500k rows, {nb['rounds']} rounds) {summary(nb['busy'])}",
            "  (busy CPU is what the node gave the analysis: at most the limit; less when other work competes)",
        ]
        print("\n".join(lines[-4:]), flush=True)
    if "spawn" in parts:
        sp = bench_spawn(args)
        ok = [t for t in sp["times"].values() if isinstance(t, float)]
        bad = {u: t for u, t in sp["times"].items() if not isinstance(t, float)}
        lines += [
            "spawn (hardened hub, REST start to ready, notebook image cached):",
            f"  one at a time      {sp['solo']:.2f} s",
            f"  {sp['n']} at once          all ready in {sp['wall']:.2f} s (each {', '.join(f'{t:.1f}' for t in sorted(ok))} s)"
            f" -> {60 * len(ok) / sp['wall']:.0f} servers/minute on this node" + (f"; failed: {bad}" if bad else ""),
        ]
        print("\n".join(lines[-3:]), flush=True)
    if "egress" in parts:
        rows = bench_egress(args)
        lines.append(f"egress service ({args.egress_clients} researchers, closed loop, {args.egress_seconds:.0f} s, PostgreSQL, "
                     "one quarantine folder; direct: round-robin by client, balancer: one HAProxy (TCP) in front):")
        baseline = {r["via"]: r["rate"] for r in rows if r["replicas"] == min(x["replicas"] for x in rows)}
        for r in rows:
            lines.append(f"  {r['replicas']} replica(s) {r['via']:8s} {r['rate']:7.1f} calls/s in all "
                         f"({r['rate'] / baseline[r['via']]:.2f}x one replica {r['via']}), {r['rate'] / r['replicas']:6.1f} per replica, "
                         f"p50 {r['p50'] * 1e3:.0f} ms, {r['calls']} calls, failed {r['failed']}" + (f" {r['errors']}" if r["failed"] else ""))
        print("\n".join(lines[-1 - len(rows):]), flush=True)
    print("\n=== capacity table ===")
    print("\n".join(lines))
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
