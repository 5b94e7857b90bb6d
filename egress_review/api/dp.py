"""Differential-privacy queries beside the data, and the privacy budget ledgers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from egress_review.api.deps import PrincipalDep, ServiceDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.dp_service.queries import DPQuery, answer_query, budgets_for

router = APIRouter(prefix="/api/v1/dp", tags=["differential privacy"], responses=ERROR_RESPONSES)


@router.post("/query", summary="Answer a DP query on the project's extract (project token); spends budget")
async def query(q: DPQuery, svc: ServiceDep, p: PrincipalDep) -> dict:
    return await answer_query(svc, p, q)


@router.get("/budgets", summary="Privacy budget ledgers: your project's, or (checkers, admins) any project's")
def budgets(svc: ServiceDep, p: PrincipalDep, project: Annotated[str | None, Query(max_length=63)] = None) -> dict:
    return {"items": budgets_for(svc, p, project)}
