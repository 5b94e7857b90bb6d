"""The agent's container health check: ``python -m hub.node_agent.healthcheck --socket S --token-file T``.

Exits 0 only when the agent answers and found its node's firewall complete at its last check. On a
swarm a task with a health check runs only once healthy, so "a running agent task on every node"
(``hub.swarm.agent_service.nodes_without_agent``, ``sandkasse doctor``) means "a complete firewall on
every node".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.node_agent.client import AgentClient


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hub.node_agent.healthcheck", description=__doc__)
    p.add_argument("--socket", type=Path, required=True)
    p.add_argument("--token-file", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        health = AgentClient.from_files(f"unix://{args.socket}", args.token_file).health()
    except Exception as exc:  # not answering yet, wrong token: unhealthy, with the reason in the task's log
        print(f"node agent: {exc}", file=sys.stderr)
        return 1
    problems = health.get("firewall_problems") or []
    if problems:
        print("sandbox firewall incomplete: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
