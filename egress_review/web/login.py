"""Home, and the shared login (authorization code + PKCE), callback, logout and static files of
:mod:`sandkasse.web.login`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from egress_review.errors import NotFound
from egress_review.web.core import Ctx, WebRoute, context, form_context
from sandkasse.web import login as shared
from sandkasse.web.login import STATIC_FILES  # noqa: F401 - part of this module's API
from sandkasse.web.pages import STATIC  # noqa: F401

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def landing(ctx: Ctx) -> str:
    return ctx.landing()


_safe_next = shared.safe_next


@router.get("/", name="ui_home")
def home(ctx: Annotated[Ctx, Depends(context)]) -> Response:
    if ctx.principal is not None:
        return ctx.redirect(ctx.landing())
    return ctx.render("home.html")


router.include_router(shared.make_router(WebRoute, context, form_context, not_found=NotFound))
