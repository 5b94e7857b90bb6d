"""The agent's HTTP API (FastAPI, served on a unix socket by :mod:`hub.node_agent.__main__`).

``GET /health``   the firewall's missing rules at the last check (empty: complete)
``POST /firewall`` install and verify the firewall now; answers the problems left
``POST /isolate``  remove a notebook's default route; answers the routes left (must be none)
``POST /workspace`` write files into a workspace volume as the sandbox user
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import docker
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from hub.firewall import FirewallError, SandboxFirewall, drop_default_route
from hub.node_agent.verify import Refused, same_process, sandbox_notebook, workspace_volume
from hub.workspace import WorkspaceWriter

log = logging.getLogger("sandkasse.node_agent")


@dataclass
class AgentState:
    api: docker.APIClient
    firewall: SandboxFirewall
    token: str
    notebook_image: str
    uid: int = 1000
    gid: int = 1000
    home: str = "/home/researcher"
    recheck_seconds: float = 30.0
    problems: list[str] = field(default_factory=lambda: ["not checked yet"])
    checked_at: float = 0.0
    isolated: list[str] = field(default_factory=list)  # ids, newest last (the tests read it)

    def check_firewall(self) -> list[str]:
        try:
            self.firewall.install()
            self.problems = self.firewall.problems()
        except FirewallError as exc:
            self.problems = [str(exc)]
        self.checked_at = time.time()
        if self.problems:
            log.error("sandbox firewall incomplete: %s", "; ".join(self.problems))
        return self.problems


class IsolateRequest(BaseModel):
    container: str = Field(max_length=128)


class IsolateReport(BaseModel):
    container: str
    project: str
    networks: list[str]
    default_routes: str  # what is left: always empty in a 200 answer


class WorkspaceRequest(BaseModel):
    volume: str = Field(max_length=128)
    files: dict[str, str]  # name -> base64


class WorkspaceReport(BaseModel):
    written: list[str]
    failed: dict[str, str]


class Health(BaseModel):
    firewall_problems: list[str]
    checked_at: float
    chain: str
    ports: list[int]


def create_app(state: AgentState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.to_thread(state.check_firewall)

        async def recheck() -> None:
            while True:  # runs until the app stops (cancelled below)
                await asyncio.sleep(state.recheck_seconds)
                await asyncio.to_thread(state.check_firewall)

        task = asyncio.create_task(recheck())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="Sandkasse node agent", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    def authorised(authorization: str = Header(default="")) -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), state.token.encode()):
            raise HTTPException(401, "missing or wrong agent token")

    def refused(exc: Refused) -> HTTPException:
        log.warning("refused: %s", exc.reason)
        return HTTPException(exc.status, exc.reason)

    @app.get("/health", dependencies=[Depends(authorised)])
    def health() -> Health:
        return Health(firewall_problems=state.problems, checked_at=state.checked_at,
                      chain=state.firewall.chain, ports=sorted(state.firewall.ports))  # fmt: skip

    @app.post("/firewall", dependencies=[Depends(authorised)])
    def firewall() -> Health:
        state.check_firewall()
        return health()

    @app.post("/isolate", dependencies=[Depends(authorised)])
    def isolate(req: IsolateRequest) -> IsolateReport:
        try:
            nb = sandbox_notebook(state.api, req.container, state.firewall.bridge_prefix)
        except Refused as exc:
            raise refused(exc) from None
        try:
            drop_default_route(nb.pid)
        except FirewallError as exc:
            raise HTTPException(500, str(exc)) from None
        if not same_process(state.api, nb):
            # The process entered may not be the one checked: say so, the hub stops the notebook.
            raise HTTPException(409, "container restarted while it was isolated")
        state.isolated.append(nb.id)
        del state.isolated[:-1000]
        log.info("isolated %s (project %s)", nb.id[:12], nb.project)
        return IsolateReport(container=nb.id, project=nb.project, networks=list(nb.networks), default_routes="")

    @app.post("/workspace", dependencies=[Depends(authorised)])
    def workspace(req: WorkspaceRequest) -> WorkspaceReport:
        try:
            workspace_volume(state.api, req.volume)
            files = {name: base64.b64decode(b64, validate=True) for name, b64 in req.files.items()}
        except Refused as exc:
            raise refused(exc) from None
        except ValueError as exc:
            raise HTTPException(400, f"files: {exc}") from None
        writer = WorkspaceWriter(state.api, state.notebook_image, uid=state.uid, gid=state.gid, mount=state.home)
        try:
            result = writer.write(req.volume, files, {"org.sandkasse.agent": "node"})
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return WorkspaceReport(written=result.written, failed=result.failed)

    return app
