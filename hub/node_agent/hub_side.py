"""The spawner's switch between acting itself (root on the one host) and asking the node agent.

``ProjectDockerSpawner.node_agent_url`` empty: the hub installs the firewall and enters each
notebook's network namespace itself (:mod:`hub.firewall`). Set (``unix:///run/sandkasse/agent.sock``):
the hub asks the agent and needs no privilege on the host; the notebook counts as started only after
the agent's report that no default route is left.
"""

from __future__ import annotations

from collections.abc import Mapping

from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from hub.node_agent.client import AgentClient


class NodeAgentMixin(LoggingConfigurable):
    node_agent_url = Unicode(
        "", help="unix:///path/to/agent.sock of the node agent; empty: the hub takes the privileged steps itself."
    ).tag(config=True)
    node_agent_token_file = Unicode("", help="File holding the token shared with the node agent.").tag(config=True)

    def node_agent(self) -> AgentClient | None:
        if not self.node_agent_url:
            return None
        return AgentClient.from_files(self.node_agent_url, self.node_agent_token_file)

    async def agent_firewall(self, agent: AgentClient, ports: set[int]) -> None:
        """The agent installs and verifies the firewall; it must admit the ports this hub needs."""
        health = await agent.firewall()
        missing = sorted(ports - set(health.get("ports", [])))
        problems = list(health.get("firewall_problems", []))
        if missing:
            problems.append(f"the node agent does not admit port(s) {missing} (start it with --port)")
        if problems:
            raise RuntimeError("sandbox firewall incomplete on this node: " + "; ".join(problems))

    async def agent_isolate(self, agent: AgentClient, container_id: str) -> dict:
        report = await agent.isolate(container_id)
        if report.get("default_routes") or report.get("container") != container_id:
            raise RuntimeError(f"node agent report does not show {container_id[:12]} isolated: {report}")
        self.log.info("node agent isolated %s (networks %s)", container_id[:12], ", ".join(report.get("networks", [])))
        return report

    async def agent_write_workspace(self, agent: AgentClient, volume: str, files: Mapping[str, bytes]) -> dict:
        return await agent.write_workspace(volume, files)
