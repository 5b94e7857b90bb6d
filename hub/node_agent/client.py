"""The hub's side of the agent channel: ``unix:///path/to/agent.sock`` plus the shared token."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


class AgentError(RuntimeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"node agent answered {status}: {detail}")
        self.status = status
        self.detail = detail


def socket_path(url: str) -> str:
    if not url.startswith("unix://"):
        raise ValueError(f"node agent URL must be unix:///path/to/socket (the agent listens on no TCP port): {url!r}")
    return url[len("unix://"):]


@dataclass(frozen=True)
class AgentClient:
    url: str
    token: str
    timeout: float = 60.0

    @classmethod
    def from_files(cls, url: str, token_file: str | Path) -> "AgentClient":
        return cls(url, Path(token_file).read_text().strip())

    def _kwargs(self) -> dict:
        return {"base_url": "http://node-agent", "headers": {"Authorization": f"Bearer {self.token}"}, "timeout": self.timeout}

    @staticmethod
    def _answer(r: httpx.Response) -> dict:
        if r.status_code != 200:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise AgentError(r.status_code, str(detail))
        return r.json()

    async def _post(self, path: str, body: dict | None = None) -> dict:
        transport = httpx.AsyncHTTPTransport(uds=socket_path(self.url))
        async with httpx.AsyncClient(transport=transport, **self._kwargs()) as c:
            return self._answer(await c.post(path, json=body or {}))

    async def firewall(self) -> dict:
        return await self._post("/firewall")

    async def isolate(self, container: str) -> dict:
        return await self._post("/isolate", {"container": container})

    async def write_workspace(self, volume: str, files: Mapping[str, bytes]) -> dict:
        return await self._post("/workspace", {"volume": volume, "files": {n: base64.b64encode(b).decode() for n, b in files.items()}})

    def health(self) -> dict:
        with httpx.Client(transport=httpx.HTTPTransport(uds=socket_path(self.url)), **self._kwargs()) as c:
            return self._answer(c.get("/health"))
