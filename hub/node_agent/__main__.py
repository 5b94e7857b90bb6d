"""Run the node agent: ``python -m hub.node_agent --socket /run/sandkasse/agent.sock --token-file F``.

The socket is created ``0600`` (under a restrictive umask, so there is no moment it is open to
others) and handed to ``--owner-uid`` (the hub's user); uvicorn gets the bound descriptor, because
it would otherwise make a socket path it binds itself world-writable.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import stat
from pathlib import Path

import docker
import uvicorn

from hub.firewall import SandboxFirewall, owner_tag
from hub.node_agent.app import AgentState, create_app
from hub.policy import security_policy


def bind_private_socket(path: Path, owner_uid: int | None) -> socket.socket:
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SystemExit(f"{path} exists and is not a socket")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    if owner_uid is not None:
        os.chown(path, owner_uid, -1)
    os.chmod(path, 0o600)
    sock.listen(64)
    return sock


def main(argv: list[str] | None = None) -> None:
    policy = security_policy()
    net = policy.network
    p = argparse.ArgumentParser(prog="python -m hub.node_agent", description=__doc__)
    p.add_argument("--socket", type=Path, required=True, help="unix socket path (mount it into the hub only)")
    p.add_argument("--token-file", type=Path, required=True, help="file holding the shared token")
    p.add_argument("--owner-uid", type=int, default=None, help="uid of the hub, the only user allowed on the socket")
    p.add_argument("--port", type=int, action="append", default=None,
                   help="port sandboxes may reach on the host (repeatable); default the policy's hub API and egress ports")
    p.add_argument("--notebook-image", default="sandkasse/notebook:latest", help="image the workspace writer runs")
    p.add_argument("--recheck", type=float, default=30.0, help="seconds between firewall re-checks")
    p.add_argument("--chain", default=net.chain, help="iptables chain (default: the policy's; tests use a throwaway one)")
    p.add_argument("--bridge-prefix", default=net.bridge_prefix, help="sandbox bridge name prefix (default: the policy's)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    token = args.token_file.read_text().strip()
    if len(token) < 32:
        raise SystemExit("the agent token must have at least 32 characters")
    policy_ports = {net.hub_api_port, net.egress_port}
    ports = set(args.port or policy_ports)
    state = AgentState(
        api=docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), version="auto"),
        firewall=SandboxFirewall(args.chain, args.bridge_prefix, ports, policy_ports & ports, owner_tag()),
        token=token,
        notebook_image=args.notebook_image,
        uid=policy.sandbox.uid,
        gid=policy.sandbox.gid,
        recheck_seconds=args.recheck,
    )
    sock = bind_private_socket(args.socket, args.owner_uid)
    try:
        uvicorn.run(create_app(state), fd=sock.fileno(), log_level="info", access_log=False)
    finally:
        sock.close()
        args.socket.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
