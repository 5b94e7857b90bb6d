"""DP queries answered beside the data, on behalf of a notebook (``egress_review.dp``).

The service validates the query against the catalogue (columns granted to the project, category
domains and bounds declared in ``policies/dp-catalogue.yaml``), checks that the budget can pay for it,
runs the computation in a child process (:mod:`egress_review.dp_service.worker`), and then pays for
it with the atomic ledger update (``provisioning.api.spend_dp_budget``) and a ``dp.query`` audit event
in one transaction. If the ledger refuses (a concurrent query took the rest), the noisy answer is
thrown away unseen; a worker failure costs nothing. Only the noisy answer is returned.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from egress_review.audit import Actor
from egress_review.errors import Conflict, EgressError, Forbidden, InvalidInput, NotFound
from egress_review.identity.principal import Principal, Via
from egress_review.service import EgressService
from provisioning import api as prov
from provisioning.dp_catalogue import DPDataset, dp_dataset

WORKER_TIMEOUT_SECONDS = 120.0
MAX_CELLS = 10_000


class BudgetSpent(EgressError):
    status = 409
    code = "budget_spent"


class DPQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str = Field(min_length=1, max_length=100)
    kind: Literal["count", "sum", "mean", "histogram", "crosstab"]
    columns: list[str] = Field(default_factory=list, max_length=2)
    epsilon: float | None = Field(default=None, gt=0, le=100)
    rho: float | None = Field(default=None, gt=0, le=100)
    bounds: tuple[float, float] | None = None
    max_rows: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_measure(self) -> DPQuery:
        if (self.epsilon is None) == (self.rho is None):
            raise ValueError("give exactly one of epsilon (pure DP) or rho (zero-concentrated DP)")
        need = {"count": 0, "sum": 1, "mean": 1, "histogram": 1, "crosstab": 2}[self.kind]
        if len(self.columns) != need:
            raise ValueError(f"a {self.kind} query takes {need} column(s)")
        return self

    @property
    def measure(self) -> str:
        return "epsilon" if self.epsilon is not None else "rho"

    @property
    def amount(self) -> float:
        return float(self.epsilon if self.epsilon is not None else self.rho)


def _extract_path(session, project: str, dataset: str) -> tuple[str, set[str]]:  # noqa: ANN001
    for d in prov.project_datasets(session, project):
        if d.dataset == dataset:
            files = sorted(d.extract_files, key=lambda f: not f.endswith(".parquet"))
            if not files:
                raise Conflict(f"the {dataset} extract of {project} is not built")
            return str(prov.extract_dir(project) / files[0]), {c.name for c in d.columns}
    raise NotFound(f"project {project} has no dataset {dataset}")


def plan(session, project: str, q: DPQuery) -> dict[str, Any]:  # noqa: ANN001
    """What the worker computes; every data-independent choice (domain, bounds, k) is fixed here."""
    cat: DPDataset | None = dp_dataset(q.dataset)
    if cat is None:
        raise InvalidInput(f"dataset {q.dataset} is not open to DP queries (no entry in the DP catalogue)")
    path, granted = _extract_path(session, project, q.dataset)
    if cat.entity not in granted:
        raise InvalidInput(f"the extract has no entity column {cat.entity}, so contributions cannot be bounded")
    for col in q.columns:
        if col not in granted:
            raise InvalidInput(f"column {col} is not in the project's extract of {q.dataset}")
    k = q.max_rows or cat.default_rows_per_entity
    if k > cat.max_rows_per_entity:
        raise InvalidInput(f"max_rows may be at most {cat.max_rows_per_entity} for {q.dataset}")
    categories: list[list[str]] = []
    bounds = None
    if q.kind in ("histogram", "crosstab"):
        for col in q.columns:
            if col not in cat.categories:
                raise InvalidInput(f"column {col} has no category domain in the DP catalogue (domains are declared, "
                                   "never read from the data)")
            categories.append(cat.categories[col])
        if len(categories) == 2 and len(categories[0]) * len(categories[1]) > MAX_CELLS:
            raise InvalidInput("too many cells")
    if q.kind in ("sum", "mean"):
        bounds = q.bounds or cat.bounds.get(q.columns[0])
        if bounds is None:
            raise InvalidInput(f"give bounds=(lower, upper) for {q.columns[0]}: each row is clamped into them")
        if not bounds[0] < bounds[1]:
            raise InvalidInput("the lower bound must be below the upper bound")
    return {"path": path, "entity": cat.entity, "kind": q.kind, "columns": q.columns, "categories": categories,
            "bounds": list(bounds) if bounds else None, "max_rows": k, "measure": q.measure, "amount": q.amount}


async def run_worker(the_plan: dict[str, Any], timeout: float = WORKER_TIMEOUT_SECONDS) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "egress_review.dp_service.worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(json.dumps(the_plan).encode()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise Conflict("the DP query took too long; nothing was spent") from None
    try:
        result = json.loads(out or b"{}")
    except ValueError:
        result = {"error": err.decode(errors="replace")[-500:]}
    if proc.returncode != 0 or "error" in result:
        raise Conflict(f"the DP query failed ({result.get('error', 'worker error')}); nothing was spent")
    return result


def _remaining_or_refuse(session, project: str, q: DPQuery) -> dict:  # noqa: ANN001
    budgets = [b for b in prov.dp_budgets(session, project) if b["dataset"] == q.dataset]
    if not budgets:
        raise Forbidden(f"project {project} has no privacy budget on {q.dataset}")
    b = budgets[0]
    if b["measure"] != q.measure:
        raise InvalidInput(f"the {q.dataset} budget is counted in {b['measure']}; give {b['measure']}=...")
    if q.amount > b["remaining"] + 1e-12:
        raise BudgetSpent(f"privacy budget spent: {q.measure}={q.amount:g} asked, {b['remaining']:g} of "
                          f"{b['total']:g} left on {q.dataset} for {project}; nothing was computed or spent")
    return b


def pay(svc: EgressService, p: Principal, project: str, q: DPQuery, result: dict[str, Any]) -> dict:
    """Spend and audit in one transaction; :class:`BudgetSpent` (and nothing changed) when the ledger refuses."""
    query_id = uuid.uuid4().hex
    with svc.sessions() as session:
        after = prov.spend_dp_budget(session, project, q.dataset, q.measure, q.amount)
        if after is None:
            session.rollback()
            raise BudgetSpent(f"privacy budget spent: {q.measure}={q.amount:g} is more than what is left on "
                              f"{q.dataset} for {project}; nothing was spent and the answer was discarded")
        svc.audit.record(session, Actor(p.username, "researcher", p.source), "dp.query", "project", project, {
            "query": query_id, "dataset": q.dataset, "kind": q.kind, "columns": q.columns,
            "measure": q.measure, q.measure: q.amount, "max_rows": result["max_rows"],
            "mechanism": result["mechanism"], "bounds": result.get("bounds"),
            "spent": after["spent"], "total": after["total"],
            # the noisy answer may be logged (it is what the researcher sees); it lets a checker tie an
            # exported DP table to the query that produced it
            "answer": {k: result[k] for k in ("value", "low", "high", "cells") if k in result},
        })
        session.commit()
    return {"query_id": query_id, "dataset": q.dataset, **result, "budget": after}


async def answer_query(svc: EgressService, p: Principal, q: DPQuery) -> dict:
    if p.via is not Via.PROJECT_TOKEN or p.project is None:
        raise Forbidden("DP queries are sent from inside a project (use the project token)")
    project = p.project

    def prepare() -> dict[str, Any]:
        with svc.read_sessions() as session:
            _remaining_or_refuse(session, project, q)
            out = plan(session, project, q)
            session.rollback()
        return out

    the_plan = await run_in_threadpool(prepare)
    result = await run_worker(the_plan)
    result.pop("path", None)
    return await run_in_threadpool(pay, svc, p, project, q, result)


def budgets_for(svc: EgressService, p: Principal, project: str | None) -> list[dict]:
    """Researchers see their project's ledgers; checkers and admins see every project's."""
    with svc.read_sessions() as session:
        if p.project is not None:
            if project not in (None, p.project):
                raise Forbidden("a project token speaks for its own project only")
            project = p.project
        elif not (p.is_checker or p.is_admin):
            if project is None or not prov.can_access_project(session, p.username, project):
                raise Forbidden("only members, output checkers and admins see a project's privacy budget")
        out = prov.dp_budgets(session, project)
        session.rollback()
    return out
