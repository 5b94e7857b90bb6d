"""Server-rendered web UI of the egress service (Jinja2, no scripts): checkers' queue and request pages,
researchers' requests and downloads, administrators' read-only views; Keycloak login with PKCE.

``egress_review.app`` includes :data:`router`; the pages call the same business-logic layer as the API.
"""

from fastapi import APIRouter

from egress_review.web import admin, login, queue, quick, request_page, researcher

# Every module with UI routes (tests walk this to probe each route).
MODULES = (login, queue, request_page, quick, researcher, admin)

router = APIRouter(include_in_schema=False)
for _module in MODULES:
    router.include_router(_module.router)

__all__ = ["MODULES", "router"]
