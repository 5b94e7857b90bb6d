"""Factories for the application tests: a migrated database with the synthetic sick-leave and staff
datasets, their owner, a DPO, a controller's representative and an admin, and applications built
in one line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from provisioning import catalogue, db
from provisioning.applications import permissions as perm
from provisioning.applications import workflow
from provisioning.applications.content import ApplicationContent
from provisioning.applications import owners
from provisioning.synth import generate, write
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES
from sandkasse.db import make_engine, make_sessionmaker, session_scope

# username -> (roles, e-mail)
PEOPLE = {
    "oda": (("dataset-owner",), "oda@kommune.example"),
    "dora": (("dpo",), "dora@kommune.example"),
    "conrad": (("controller",), "conrad@kommune.example"),
    "anne": (("admin",), "anne@kommune.example"),
}
APPLICANT = perm.Caller("alma", frozenset({"applicant"}), "alma@uni.example")
OWNER = perm.Caller("oda", frozenset({"dataset-owner"}), "oda@kommune.example")
DPO = perm.Caller("dora", frozenset({"dpo"}), "dora@kommune.example")
CONTROLLER = perm.Caller("conrad", frozenset({"controller"}), "conrad@kommune.example")
ADMIN = perm.Caller("anne", frozenset({"admin"}), "anne@kommune.example")

# meets k=5: gender is the only quasi-identifier kept
ASK = {
    "national_id": ("pseudonymise", "link episodes of one person"),
    "gender": ("keep", "sick leave differs by gender"),
    "days": ("keep", "the outcome"),
    "diagnosis_group": ("keep", "the cause of absence"),
    "first_name": ("drop", ""),
}


def make_data(folder: Path) -> Path:
    if not (folder / "sick_leave.parquet").exists():
        write(generate(employees=400, seed=5), folder, formats=("parquet",))
    return folder


def make_factory(tmp: Path, data: Path, database_url: str | None = None, people: dict | None = None,
                 owner: str = "oda"):
    engine = make_engine(database_url or f"sqlite:///{tmp / 'apps.db'}")
    db.migrate(engine=engine)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as s:
        for name, file, roles, cls in (("sick-leave", "sick_leave.parquet", SICK_LEAVE_ROLES, "special-category"),
                                       ("staff", "staff.parquet", STAFF_ROLES, "personal")):
            if _exists(s, name):
                continue
            catalogue.create_dataset(s, name=name, source=data / file, columns=roles, classification=cls,
                                     description=f"synthetic {name}", actor="anne")
            owners.add_owner(s, name, owner, actor="anne", reason="test")
        for username, (roles, email) in (people or PEOPLE).items():
            catalogue.upsert_person(s, username=username, email=email, roles=roles, actor="anne")
    return factory


def _exists(s, name: str) -> bool:
    try:
        catalogue.get_dataset(s, name)
        return True
    except catalogue.NotFound:
        return False


def content(title: str = "Sick leave by gender", members: tuple[str, ...] = ("bo@uni.example",),
            ask: dict | None = None, **over) -> ApplicationContent:
    ask = ask or ASK
    raw = {
        "title": title,
        "purpose": "Describe sick leave by gender and diagnosis group to target measures.",
        "legal_basis_art6": "6(1)(e)",
        "legal_basis_art9": "9(2)(j)",
        "national_provision": "Personopplysningsloven § 9",
        "data_controller": "Trondheim kommune",
        "rek_reference": "REK 2026/123",
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 12, 31),
        "members": list(members),
        "datasets": {"sick-leave": {"columns": {c: {"transformation": t, "justification": j} for c, (t, j) in ask.items()}}},
        **over,
    }
    return ApplicationContent.model_validate(raw)


def submitted(factory, caller: perm.Caller = APPLICANT, **kw) -> str:
    with session_scope(factory) as s:
        app = workflow.create(s, caller, content(**kw))
        workflow.submit(s, caller, app.id)
        return app.id


def approved(factory, **kw) -> str:
    app_id = submitted(factory, **kw)
    for who in (OWNER, DPO, CONTROLLER):
        with session_scope(factory) as s:
            workflow.decide(s, who, app_id, "approve", "fine")
    return app_id
