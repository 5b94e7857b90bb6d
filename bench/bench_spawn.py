"""Spawn time: REST API start request to a ready server, hardened ``ProjectDockerSpawner`` against plain
``DockerSpawner`` with the same (cached) notebook image, measured in the same run.

Two hubs run side by side on free ports; spawns alternate between them so drift on a shared machine
hits both alike. Each spawn: ``POST /users/<u>/servers/<name>``, then poll the user model every 10 ms
until the server is ``ready``; then stop it and wait until it is gone. Prints the medians and the ratio
(target: hardened at most 1.2x plain, and under 3 s).

    .venv/bin/python bench/bench_spawn.py [--spawns 5]
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.firewall import SandboxFirewall  # noqa: E402
from hub.images import ensure_notebook_image  # noqa: E402
from hub.run import HubProcess, start_hub  # noqa: E402
from provisioning import api as papi  # noqa: E402
from provisioning import service  # noqa: E402
from provisioning.db import session_factory  # noqa: E402
from sandkasse.db import session_scope  # noqa: E402
from sandkasse.stack.docker_engine import ensure_docker  # noqa: E402

USER = "benchuser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def hub_env(workdir: Path, name: str, spawner: str, image: str, db_url: str) -> dict[str, str]:
    port = free_port()
    return {
        "SANDKASSE_DATABASE_URL": db_url,
        "SANDKASSE_PROJECT_TOKEN_KEY": secrets.token_urlsafe(40),
        "SANDKASSE_HUB_STATE_DIR": str(workdir / name),
        "SANDKASSE_HUB_PORT": str(port),
        "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SANDKASSE_HUB_API_PORT": str(free_port()),
        "SANDKASSE_HUB_PROXY_API_PORT": str(free_port()),
        "SANDKASSE_HUB_AUTHENTICATOR": "null",
        "SANDKASSE_HUB_SPAWNER": spawner,
        "SANDKASSE_HUB_NOTEBOOK_IMAGE": image,
        "SANDKASSE_HUB_EGRESS_PORT": str(free_port()),
        "SANDKASSE_HUB_LOG_LEVEL": "INFO",  # the spawner logs its phases at INFO
    }


def spawn_once(hub: HubProcess, server: str, timeout: float = 120) -> float:
    with hub.api() as api:
        t0 = time.perf_counter()
        resp = api.post(f"/users/{USER}/servers/{server}", json={})
        if resp.status_code >= 400:
            raise RuntimeError(f"spawn refused: {resp.status_code} {resp.text}")
        while time.perf_counter() - t0 < timeout:
            s = (api.get(f"/users/{USER}").json().get("servers") or {}).get(server)
            if s and s.get("ready"):
                elapsed = time.perf_counter() - t0
                break
            time.sleep(0.01)
        else:
            raise RuntimeError(f"server not ready in {timeout}s; see {hub.log_path}")
        api.delete(f"/users/{USER}/servers/{server}")
        for _ in range(600):
            if not (api.get(f"/users/{USER}").json().get("servers") or {}).get(server):
                break
            time.sleep(0.05)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spawns", type=int, default=5, help="measured spawns per spawner (after one warm-up each)")
    args = parser.parse_args()
    if args.spawns < 5:
        parser.error("at least 5 spawns")

    docker_client = ensure_docker()
    image = ensure_notebook_image()
    workdir = Path(tempfile.mkdtemp(prefix="sandkasse-bench-spawn-"))
    db_url = f"sqlite:///{workdir / 'sandkasse.db'}"
    slug = f"bench-{secrets.token_hex(3)}"
    sessions = session_factory(db_url)
    with session_scope(sessions) as s:
        service.create_open_project(s, slug, {USER: "researcher"}, title="Spawn benchmark")
    extracts = papi.extract_dir(slug)
    extracts.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"year": [2024, 2025], "value": [1.0, 2.0]}).to_parquet(extracts / "bench.parquet")

    hubs: dict[str, HubProcess] = {}
    plain_net = docker_client.networks.create(f"sandkasse-bench-plain-{slug}", driver="bridge", labels={"org.sandkasse.project": slug})
    envs = {
        "hardened": hub_env(workdir, "hardened", "project-docker", image, db_url),
        "plain": {**hub_env(workdir, "plain", "docker", image, db_url), "SANDKASSE_HUB_PLAIN_NETWORK": plain_net.name, "SANDKASSE_HUB_LIFECYCLE": "false"},
    }
    times: dict[str, list[float]] = {"hardened": [], "plain": []}
    ok = False
    try:
        for kind, env in envs.items():
            hubs[kind] = start_hub(env)
            with hubs[kind].api() as api:
                api.post(f"/users/{USER}")
        names = {"hardened": slug, "plain": "plain"}
        for kind in hubs:  # warm-up: first network, volume, page cache
            spawn_once(hubs[kind], names[kind])
        for i in range(args.spawns):
            order = ["hardened", "plain"] if i % 2 == 0 else ["plain", "hardened"]
            for kind in order:
                times[kind].append(spawn_once(hubs[kind], names[kind]))
        ok = True
    finally:
        for hub in hubs.values():
            hub.stop()
        phase_lines = []
        if "hardened" in hubs and hubs["hardened"].log_path.exists():
            phase_lines = [ln for ln in hubs["hardened"].log_path.read_text().splitlines() if " ready in " in ln]
        for c in docker_client.containers.list(all=True, filters={"label": f"org.sandkasse.project={slug}"}):
            c.remove(force=True)
        for c in docker_client.containers.list(all=True, filters={"name": f"jupyter-{USER}"}):
            c.remove(force=True)
        for n in docker_client.networks.list(filters={"label": f"org.sandkasse.project={slug}"}):
            n.remove()
        for v in docker_client.volumes.list(filters={"label": f"org.sandkasse.project={slug}"}):
            v.remove(force=True)
        SandboxFirewall.from_policy().remove_ports({int(envs["hardened"]["SANDKASSE_HUB_API_PORT"]), int(envs["hardened"]["SANDKASSE_HUB_EGRESS_PORT"])})
        shutil.rmtree(extracts.parent, ignore_errors=True)
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"failed; hub logs kept in {workdir}", file=sys.stderr)

    hard, plain = statistics.median(times["hardened"]), statistics.median(times["plain"])
    print(f"spawn time, REST start to ready, image cached, median of {args.spawns} (same run, alternating):")
    print(f"  plain DockerSpawner      {plain:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in times['plain'])}")
    print(f"  ProjectDockerSpawner     {hard:6.2f} s   runs: {', '.join(f'{t:.2f}' for t in times['hardened'])}")
    print(f"  ratio hardened / plain   {hard / plain:6.2f} x   (target <= 1.20 x, and hardened < 3 s)")
    # The spawner logs its phases; all but the server's own boot are the hardening's cost.
    overheads = []
    for line in phase_lines[1:]:  # the first is the warm-up (creates the project network)
        phases = dict((name.strip(), float(sec)) for name, sec in re.findall(r"([a-z+ ]+) ([0-9.]+)s", line.split("(", 1)[1]))
        overheads.append(sum(v for k, v in phases.items() if k != "server answers"))
    if overheads:
        print(f"  spawner work before the server boots (checks, network, volumes, container, isolation; median) {statistics.median(overheads):.2f} s")


if __name__ == "__main__":
    main()
