"""The egress service's FastAPI application.

Run: ``uvicorn egress_review.app:create_app --factory``. Routers call the business-logic modules
(:mod:`~egress_review.submission`, :mod:`~egress_review.review`, :mod:`~egress_review.release`); a
server-rendered UI can be added as routers under ``egress_review/web/`` calling the same layer and
reading the same :class:`~egress_review.service.EgressService` from ``app.state.egress``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from egress_review.api import errors, files, meta, notifications, releases, requests, reviews, suggestions
from egress_review.checking import CheckQueue
from egress_review.closure import closure_loop
from egress_review.notify.sender import NotifyLoop
from egress_review.limits import AnonymousRateLimit, BodyLimit
from egress_review.models import FileVersion
from egress_review.peer import RecordDirectPeer
from egress_review.release.release import release_pending
from egress_review.service import EgressService, build_service
from egress_review.settings import EgressSettings

log = logging.getLogger(__name__)


def recover(svc: EgressService) -> None:
    """What a crash may have left: orphan blobs and stale parts go, approved requests get released."""
    with svc.sessions() as session:
        known = set(session.execute(select(FileVersion.blob)).scalars())
        session.rollback()
    removed = svc.store.sweep(known)
    if removed:
        log.warning("quarantine: removed %d leftovers of interrupted uploads", len(removed))
    released = release_pending(svc.sessions, svc.audit, svc.store, svc.signer, svc.release_dir)
    if released:
        log.warning("released %d requests left approved by an interruption", len(released))


def create_app(settings: EgressSettings | None = None) -> FastAPI:
    svc = build_service(settings or EgressSettings())
    recover(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if svc.checker is not None:
            svc.checker.warm()  # start the check workers now, not on the first upload
        threading.Thread(target=svc.keycloak.prefetch, name="egress-keycloak-keys", daemon=True).start()
        queue = svc.checks = CheckQueue(svc)
        await queue.start()
        closure = asyncio.create_task(closure_loop(svc), name="egress-closed-projects")
        notifier = NotifyLoop(svc.sessions, svc.policy.notifications) if svc.policy.notifications.enabled else None
        if notifier is not None:
            await notifier.start()
        try:
            yield
        finally:
            if notifier is not None:
                await notifier.stop()
            closure.cancel()
            await asyncio.gather(closure, return_exceptions=True)
            await queue.stop()
            if svc.checks is queue:
                svc.checks = None
            svc.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Sandkasse egress review",
        version="1",
        description="Quarantine, automatic disclosure checks, independent two-person review, signed release, "
        "and a tamper-evident audit log for every output leaving the Sandkasse TRE.",
    )
    app.state.egress = svc
    errors.install(app)
    for module in (requests, files, reviews, releases, meta, notifications, suggestions):
        app.include_router(module.router)
    from egress_review.web import router as web_router  # the server-rendered UI (egress_review/web/)

    app.include_router(web_router)
    from egress_review.api import dp as dp_api  # DP queries and privacy budgets (egress_review/dp_service/)

    app.include_router(dp_api.router)
    app.add_middleware(BodyLimit, max_bytes=svc.policy.uploads.max_json_bytes)
    app.add_middleware(AnonymousRateLimit, limits=lambda: app.state.egress.policy.rate_limits)
    # Outermost, so the rate limit and the audit see the peer it decides on. The app decides, not the
    # server's flags: uvicorn runs with --no-proxy-headers (images/egress, egress_review/run.py).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=svc.settings.trusted_proxies)
    # Outside that: the peer as the kernel saw it, for credentials bound to a network (project tokens).
    app.add_middleware(RecordDirectPeer)
    return app
