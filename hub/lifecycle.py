"""The lifecycle service: a JupyterHub-managed service that, every ``--interval`` seconds,

* stops every running server whose project is no longer open (suspended, closed, expired) or whose
  user is no longer a member (``provisioning.api.stoppable_servers`` decides),
* stops servers older than the project token's lifetime (their egress credential has expired),
* re-installs the sandbox firewall when something removed it,
* removes the workspace and ``/shared`` volumes of closed projects and the workspace volumes of removed
  members (``hub/retention.py``).

It talks to the hub only through the REST API with its own service token (``JUPYTERHUB_API_TOKEN``).
Idle culling is jupyterhub-idle-culler's job (configured next to this service).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from datetime import UTC, datetime
from urllib.parse import quote

import docker
import docker.errors
import httpx

from hub.firewall import SandboxFirewall
from hub.policy import security_policy
from hub.projects import ProjectDirectory
from hub.retention import Retention, volume_prefix
from hub.settings import HubSettings

log = logging.getLogger("sandkasse.lifecycle")


def _started(server: dict) -> datetime | None:
    raw = server.get("started")
    if not raw:
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


async def running_servers(client: httpx.AsyncClient) -> list[tuple[str, str, dict]]:
    found: list[tuple[str, str, dict]] = []
    offset = 0
    while True:
        resp = await client.get("users", params={"state": "active", "offset": offset, "limit": 200})
        resp.raise_for_status()
        body = resp.json()
        users = body["items"] if isinstance(body, dict) else body
        for user in users:
            for name, server in (user.get("servers") or {}).items():
                found.append((user["name"], name, server))
        if not isinstance(body, dict) or not (body.get("_pagination") or {}).get("next"):
            return found
        offset = body["_pagination"]["next"]["offset"]


async def stop_server(client: httpx.AsyncClient, user: str, name: str, why: str) -> None:
    log.warning("stopping %s/%s: %s", user, name or "(default)", why)
    resp = await client.delete(f"users/{quote(user, safe='')}/servers/{quote(name, safe='')}")
    if resp.status_code not in (202, 204, 404):
        log.error("could not stop %s/%s: %s %s", user, name, resp.status_code, resp.text[:200])


async def enforce_retention(directory: ProjectDirectory, retention: Retention) -> list:
    """Volumes of closed projects and removed members go (their servers were stopped first)."""
    _, slugs = await asyncio.to_thread(retention.candidates)
    projects = {slug: await directory.project(slug) for slug in sorted(slugs)}
    return await asyncio.to_thread(retention.enforce, projects)


async def enforce_once(
    client: httpx.AsyncClient, directory: ProjectDirectory, firewall: SandboxFirewall | None, retention: Retention | None = None
) -> list[tuple[str, str]]:
    """One pass; returns the (user, server) pairs it stopped."""
    if firewall is not None:
        problems = await asyncio.to_thread(firewall.problems)
        if problems:
            log.error("sandbox firewall incomplete (%s); re-installing", "; ".join(problems))
            await asyncio.to_thread(firewall.install)
    servers = await running_servers(client)
    to_stop: dict[tuple[str, str], str] = {}
    for user, name, _ in servers:
        if not name:
            to_stop[(user, name)] = "a sandbox always belongs to a project (named server)"
    pairs = [(user, name) for user, name, _ in servers if name]
    for pair in await directory.stoppable(pairs):
        to_stop.setdefault(pair, "project not open or user no longer a member")
    ttl = security_policy().credentials.project_token_ttl_seconds
    now = datetime.now(UTC)
    for user, name, server in servers:
        started = _started(server)
        if started is not None and (now - started).total_seconds() > ttl:
            to_stop.setdefault((user, name), "older than its egress credential")
    await asyncio.gather(*(stop_server(client, u, n, why) for (u, n), why in to_stop.items()))
    if retention is not None:
        try:
            await enforce_retention(directory, retention)
        except Exception:  # servers are stopped either way; the next pass retries the volumes
            log.exception("volume retention pass failed")
    return list(to_stop)


async def run(interval: float, once: bool = False) -> None:
    api_url = os.environ["JUPYTERHUB_API_URL"].rstrip("/") + "/"
    token = os.environ["JUPYTERHUB_API_TOKEN"]
    directory = ProjectDirectory()
    hub_port = httpx.URL(api_url).port
    egress_port = HubSettings().egress_port
    ports = {p for p in (hub_port, egress_port) if p}
    # Port rules carry the hub's pid (this service is the hub's child) so they are pruned once it is gone.
    # With a node agent the agent re-checks the firewall (hub/node_agent/); the hub does not touch iptables.
    own_firewall = os.geteuid() == 0 and not HubSettings().node_agent_url
    firewall = SandboxFirewall.from_policy(ports, hub_pid=os.getppid()) if own_firewall else None
    retention = _retention()
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"token {token}"}, timeout=30, trust_env=False) as client:
        while True:
            try:
                await enforce_once(client, directory, firewall, retention)
            except Exception:  # a bad pass must not end enforcement; the next pass retries
                log.exception("lifecycle pass failed")
            if once:
                return
            await asyncio.sleep(interval)


def _retention() -> Retention | None:
    settings, policy = HubSettings(), security_policy()
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        log.error("no Docker engine (%s): volumes of closed projects and removed members are not removed", exc)
        return None
    return Retention(
        engine, settings.notebook_image, settings.state_dir / "archive", settings.state_dir / "audit" / "hub.jsonl",
        on_close=policy.lifecycle.on_close, prefix=volume_prefix(), uid=policy.sandbox.uid, gid=policy.sandbox.gid,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=security_policy().lifecycle.enforce_interval_seconds)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args.interval, args.once))


if __name__ == "__main__":
    main()
