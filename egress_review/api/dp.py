"""Differential-privacy queries beside the data, and the privacy budget ledgers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from egress_review.api.deps import PrincipalDep, ServiceDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.dp_service.queries import DPQuery, answer_query, budgets_for
from egress_review.dp_service.release import release_answer, released

router = APIRouter(prefix="/api/v1/dp", tags=["differential privacy"], responses=ERROR_RESPONSES)


@router.post("/query", summary="Answer a DP query on the project's extract (project token); spends budget")
async def query(q: DPQuery, svc: ServiceDep, p: PrincipalDep) -> dict:
    return await answer_query(svc, p, q)


@router.get("/budgets", summary="Privacy budget ledgers: your project's, or (checkers, admins) any project's")
def budgets(svc: ServiceDep, p: PrincipalDep, project: Annotated[str | None, Query(max_length=63)] = None) -> dict:
    return {"items": budgets_for(svc, p, project)}



class ReleaseIn(BaseModel):
    query_id: str = Field(min_length=1, max_length=64)


@router.post("/release", summary="Release a DP answer without human review, when the policy allows it (its requester, project token)")
def release(body: ReleaseIn, svc: ServiceDep, p: PrincipalDep) -> dict:
    return release_answer(svc, p, body.query_id)


@router.get("/release", summary="A released DP answer: signed manifest and table (project members)")
def get_release(svc: ServiceDep, p: PrincipalDep, query_id: Annotated[str, Query(max_length=64)] = "",
                project: Annotated[str | None, Query(max_length=63)] = None) -> dict:
    return released(svc, p, query_id, project)
