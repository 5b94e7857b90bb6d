"""The portal as an ASGI application: ``uvicorn provisioning.portal.app:create_app --factory``.

Reads :class:`sandkasse.settings.Settings` and :class:`~provisioning.portal.settings.PortalSettings`
from the environment and ``policies/applications.yaml``; sends the application notices from the
outbox beside the pages when the policy enables them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from provisioning.applications import notices, prepared
from provisioning.applications.policy import ApplicationsPolicy
from provisioning.applications.policy import current as current_policy
from provisioning.applications.sender import send_due
from provisioning.applications.twin import twin_noise_key
from provisioning.db import migrate
from provisioning.portal.routes import router
from provisioning.portal.settings import PortalSettings
from provisioning.portal.web import PortalApp
from sandkasse.db import make_engine
from sandkasse.keys import load_master_key
from sandkasse.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, web: PortalSettings | None = None,
               policy: ApplicationsPolicy | None = None) -> FastAPI:
    settings = settings or get_settings()
    web = web or PortalSettings()
    policy = policy or current_policy()
    engine = make_engine(settings.effective_database_url)
    migrate(engine=engine)
    # the policy rides on every session, so each transition writes its notices in its own transaction
    sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False, info={
        notices.SESSION_KEY: policy,
        prepared.VAR_DIR_KEY: str(settings.var_dir),  # where the pre-assessment and the twin are kept
        prepared.NOISE_KEY: twin_noise_key(load_master_key(settings)),
    })

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if policy.notifications.enabled and policy.notifications.smtp is not None:
            task = asyncio.create_task(_send_loop(sessions, policy), name="portal-notices")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            engine.dispose()

    app = FastAPI(title="Sandkasse application portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = PortalApp.build(settings, web, sessions)
    app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _send_loop(sessions: sessionmaker[Session], policy: ApplicationsPolicy) -> None:
    while True:
        try:
            await run_in_threadpool(send_due, sessions, policy.notifications)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database or mail hiccup: the next round tries again
            log.exception("sending application notices failed")
        await asyncio.sleep(policy.notifications.sweep_seconds)
