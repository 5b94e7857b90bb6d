"""The differential-privacy budget ledger: one row per (project, dataset), set at provisioning.

Composition rule (documented in docs/disclosure-rules.md): a ledger counts either ``epsilon`` (pure
DP; basic sequential composition, the epsilons of all answered queries add up) or ``rho``
(zero-concentrated DP; the rhos add up). A query is paid for with :func:`spend`, one conditional
UPDATE (``spent + cost <= total``) that the database decides atomically, so concurrent queries can
never spend more than the total, whichever database and however many service processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.catalogue import get_dataset
from provisioning.errors import ProvisioningError
from provisioning.models import DPBudget
from provisioning.projects import get_project
from sandkasse.audit import utcnow

MEASURES = ("epsilon", "rho")
MICRO = 1_000_000


def to_micro(amount: float) -> int:
    # rounded up: a query never costs less than it says
    micro = int(-(-round(amount * MICRO * 1000) // 1000))
    if micro <= 0:
        raise ProvisioningError("a privacy cost must be positive")
    return micro


@dataclass(frozen=True)
class BudgetInfo:
    project: str
    dataset: str
    measure: str
    total: float
    spent: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)


def _info(row: DPBudget, project: str, dataset: str) -> BudgetInfo:
    return BudgetInfo(project, dataset, row.measure, row.total_micro / MICRO, row.spent_micro / MICRO)


def set_budget(session: Session, slug: str, dataset: str, measure: str, total: float, *, actor: str = "system",
               reason: str = "") -> BudgetInfo:
    """Create or change the total; what was spent stays spent (a lower total can leave nothing)."""
    if measure not in MEASURES:
        raise ProvisioningError(f"unknown privacy measure {measure!r}; use epsilon or rho")
    project = get_project(session, slug)
    ds = get_dataset(session, dataset)
    if not any(e.dataset_id == ds.id for e in project.entitlements):
        raise ProvisioningError(f"project {slug!r} has no grant on dataset {dataset!r}")
    row = session.execute(
        select(DPBudget).where(DPBudget.project_id == project.id, DPBudget.dataset_id == ds.id)
    ).scalar_one_or_none()
    total_micro = to_micro(total)
    if row is not None and row.measure != measure and row.spent_micro:
        raise ProvisioningError(f"the {dataset} budget of {slug} is counted in {row.measure} and partly spent")
    if row is None:
        row = DPBudget(project_id=project.id, dataset_id=ds.id, measure=measure, total_micro=total_micro, spent_micro=0)
        session.add(row)
    elif (row.measure, row.total_micro) == (measure, total_micro):
        return _info(row, slug, dataset)
    else:
        row.measure, row.total_micro, row.updated_at = measure, total_micro, utcnow()
    session.flush()
    audit.record(session, actor=actor, action="dp_budget.set", object_type="project", object_id=slug,
                 reason=reason, dataset=dataset, measure=measure, total=total)
    return _info(row, slug, dataset)


def _ids(session: Session, slug: str, dataset: str) -> tuple[int, int] | None:
    from provisioning.models import Dataset, Project

    project_id = session.execute(select(Project.id).where(Project.slug == slug)).scalar_one_or_none()
    dataset_id = session.execute(select(Dataset.id).where(Dataset.name == dataset)).scalar_one_or_none()
    return None if project_id is None or dataset_id is None else (project_id, dataset_id)


def get_budget(session: Session, slug: str, dataset: str) -> BudgetInfo | None:
    ids = _ids(session, slug, dataset)
    if ids is None:
        return None
    row = session.execute(
        select(DPBudget).where(DPBudget.project_id == ids[0], DPBudget.dataset_id == ids[1])
    ).scalar_one_or_none()
    return None if row is None else _info(row, slug, dataset)


def list_budgets(session: Session, slug: str | None = None) -> list[BudgetInfo]:
    from provisioning.models import Dataset, Project

    q = select(DPBudget, Project.slug, Dataset.name).join(Project, Project.id == DPBudget.project_id).join(
        Dataset, Dataset.id == DPBudget.dataset_id).order_by(Project.slug, Dataset.name)
    if slug is not None:
        q = q.where(Project.slug == slug)
    return [_info(row, p, d) for row, p, d in session.execute(q)]


def spend(session: Session, slug: str, dataset: str, measure: str, amount: float) -> BudgetInfo | None:
    """Take ``amount`` from the ledger inside the caller's transaction; None (nothing changed) when
    there is no such budget, it counts another measure, or what is left is less than ``amount``.
    The caller records its audit event in the same transaction and commits."""
    ids = _ids(session, slug, dataset)
    if ids is None:
        return None
    cost = to_micro(amount)
    taken = session.execute(
        update(DPBudget)
        .where(DPBudget.project_id == ids[0], DPBudget.dataset_id == ids[1], DPBudget.measure == measure,
               DPBudget.spent_micro + cost <= DPBudget.total_micro)
        .values(spent_micro=DPBudget.spent_micro + cost, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    return get_budget(session, slug, dataset)
