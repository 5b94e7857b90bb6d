"""The demo's applications: one waiting for each role (the applicant, a dataset owner, the DPO and
the controller's representative), made through the workflow like real ones, once."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.applications import workflow
from provisioning.applications.content import ApplicationContent
from provisioning.applications.models import Application
from provisioning.applications.owners import add_owner
from provisioning.applications.permissions import Caller

APPLICANT, OWNER, DPO, CONTROLLER = "alma", "siri", "dag", "kjell"
PEOPLE = {
    APPLICANT: ("Alma Aas", ("applicant",)),
    OWNER: ("Siri Dahl", ("dataset-owner",)),
    DPO: ("Dag Vik", ("dpo",)),
    CONTROLLER: ("Kjell Moe", ("controller",)),
}
# title -> the role it waits for
WAITING = {
    "Part-time work and sick leave": "applicant",
    "Sick leave after reorganisations": "dataset-owner",
    "Diagnosis groups by service area": "dpo",
    "Long-term sick leave and return to work": "controller",
}
_ASK = {
    "national_id": ("pseudonymise", "link the episodes of one employee"),
    "gender": ("keep", "compare women and men"),
    "service_area": ("keep", "where measures are taken"),
    "days": ("keep", "the outcome"),
    "diagnosis_group": ("keep", "the cause of absence"),
}


def _content(title: str, today: date) -> ApplicationContent:
    return ApplicationContent.model_validate({
        "title": title,
        "purpose": f"{title}: find where measures reduce sick leave in the municipality's units.",
        "legal_basis_art6": "6(1)(e)", "legal_basis_art9": "9(2)(j)",
        "national_provision": "Personopplysningsloven § 9", "data_controller": "Trondheim kommune, HR unit",
        "funding": "Trondheim kommune", "rek_reference": "REK 2026/0815",
        "start_date": today, "end_date": today + timedelta(days=365),
        "members": ["ola@demo.sandkasse.invalid"],
        "datasets": {"sick-leave": {"columns": {c: {"transformation": t, "justification": j} for c, (t, j) in _ASK.items()}}},
    })


def seed_applications(session: Session, today: date, admin: str) -> list[str]:
    """Register the dataset owner of both demo datasets and make the waiting applications (once)."""
    for name in ("sick-leave", "staff"):
        add_owner(session, name, OWNER, actor=admin, reason="demo")
    have = set(session.execute(select(Application.title).where(Application.applicant == APPLICANT)).scalars())
    applicant = Caller(APPLICANT, frozenset({"applicant"}), f"{APPLICANT}@demo.sandkasse.invalid")
    deciders = [Caller(OWNER, frozenset({"dataset-owner"})), Caller(DPO, frozenset({"dpo"})),
                Caller(CONTROLLER, frozenset({"controller"}))]
    made = []
    for title, waits_for in WAITING.items():
        if title in have:
            continue
        app = workflow.create(session, applicant, _content(title, today))
        workflow.submit(session, applicant, app.id)
        if waits_for == "applicant":
            workflow.decide(session, deciders[0], app.id, "return", "Say which years you need, and why service area.")
        else:
            steps = {"dataset-owner": 0, "dpo": 1, "controller": 2}[waits_for]
            for who in deciders[:steps]:
                workflow.decide(session, who, app.id, "approve", "demo")
        made.append(title)
    return made
