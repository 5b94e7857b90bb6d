"""How the signed-in user wants to be notified (``/api/v1/me/notifications``): every notice at once, or a
digest per period (``notifications.digest_seconds`` in ``policies/egress.yaml``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from egress_review.api.deps import PrincipalDep, ReadSessionDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.notify import outbox

router = APIRouter(tags=["service"], responses=ERROR_RESPONSES)


class NotifyPreferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["immediate", "digest"]


class NotifyPreferenceOut(BaseModel):
    username: str
    mode: Literal["immediate", "digest"]


@router.get("/api/v1/me/notifications", response_model=NotifyPreferenceOut, summary="Your notification preference")
def get_preference(session: ReadSessionDep, p: PrincipalDep) -> NotifyPreferenceOut:
    return NotifyPreferenceOut(username=p.username, mode=outbox.mode_of(session, p.username))


@router.put("/api/v1/me/notifications", response_model=NotifyPreferenceOut,
            summary="Set your notification preference (a user sets only their own)")
def set_preference(body: NotifyPreferenceIn, session: SessionDep, p: PrincipalDep) -> NotifyPreferenceOut:
    outbox.set_mode(session, p.username, body.mode)
    session.commit()
    return NotifyPreferenceOut(username=p.username, mode=body.mode)
