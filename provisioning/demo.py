"""Seed the demo: synthetic data, the two catalogued datasets, the two declared demo projects
(``policies/projects/sick-leave-2026.yaml`` and ``turnover-2026.yaml``) with their extracts, and the
demo people, and one application waiting for each role of the portal (applicant, dataset owner, DPO,
controller's representative). Passwords are generated on every run and returned for printing; none is in the code.

Both demo extracts keep small units on purpose (so output checking has real disclosure problems to
catch), which puts them below the policy's minimum k: the demo admin records the audited override that
a real admin would have to record, with its reason.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from provisioning import catalogue, lifecycle
from provisioning.applications.demo_seed import PEOPLE as APPLICATION_PEOPLE
from provisioning.applications.demo_seed import seed_applications
from provisioning.applications.prepared import NOISE_KEY, VAR_DIR_KEY
from provisioning.applications.twin import twin_noise_key
from provisioning.db import session_factory as make_factory
from provisioning.declarative import ProjectSpec, apply_spec, load_spec
from provisioning.extracts import build_project_extracts
from provisioning.models import ProjectStatus
from provisioning.projects import find_project
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES, generate, write
from provisioning.synth.population import ROLES as POPULATION_ROLES
from provisioning.synth.population import write_demo_population
from sandkasse.db import session_scope
from sandkasse.settings import get_settings

DEMO_PROJECTS = ("sick-leave-2026", "turnover-2026")
ADMIN = "anne"
# username -> (full name, realm roles)
DEMO_PEOPLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "ingrid": ("Ingrid Lund", ("researcher",)),
    "ola": ("Ola Nordmann", ("researcher",)),
    "jonas": ("Jonas Berg", ("researcher",)),
    "kari": ("Kari Hansen", ("output-checker",)),
    "per": ("Per Olsen", ("output-checker",)),
    ADMIN: ("Anne Solberg", ("admin",)),
    **APPLICATION_PEOPLE,  # applicant, dataset owner, DPO, controller's representative (the portal)
}
OVERRIDE_REASON = (
    "Demo with synthetic data: units (some with fewer than 5 employees) are kept on purpose so that "
    "the egress disclosure checks have real problems to catch."
)


@dataclass
class DemoUser:
    username: str
    full_name: str
    roles: list[str]
    password: str | None  # None when no Keycloak was given (no account was made)
    projects: dict[str, str] = field(default_factory=dict)  # slug -> role


@dataclass
class DemoInfo:
    data_dir: Path
    datasets: list[str]
    projects: dict[str, Path]  # slug -> extract folder
    users: dict[str, DemoUser]
    keycloak_synced: bool
    risk_overrides: list[str]
    population_dir: Path | None = None  # population register and the Bydelsfakta tables built from it


def _spec(slug: str, today: date) -> ProjectSpec:
    spec = load_spec(get_settings().policies_dir / "projects" / f"{slug}.yaml")
    if not spec.start_date <= today <= spec.end_date:
        # keep the demo open whenever it runs; the declared dates are for the reviewed file
        spec = spec.model_copy(update={"start_date": today - timedelta(days=30), "end_date": today + timedelta(days=365)})
    return spec


def seed_demo(
    factory: sessionmaker[Session] | str | None,
    var_dir: Path | None = None,
    *,
    keycloak=None,  # noqa: ANN001 - KeycloakAdmin bound to the realm, or a KeycloakSync; None: no accounts
    master_key: bytes | None = None,
    employees: int = 15000,
    seed: int = 2026,
    today: date | None = None,
) -> DemoInfo:
    from provisioning.keycloak_sync import KeycloakSync

    factory = factory if isinstance(factory, sessionmaker) else make_factory(factory)
    var_dir = Path(var_dir or get_settings().var_dir)
    today = today or date.today()
    data_dir = var_dir / "data" / "sick-leave"
    if not (data_dir / "sick_leave.parquet").exists() or not (data_dir / "staff.parquet").exists():
        write(generate(employees=employees, seed=seed), data_dir)
    population_dir = var_dir / "data" / "population"
    if not (population_dir / "population.parquet").exists():
        write_demo_population(population_dir, seed=seed)

    passwords = {u: secrets.token_urlsafe(12) for u in DEMO_PEOPLE} if keycloak is not None else {}
    sync = None
    if keycloak is not None:
        sync = keycloak if isinstance(keycloak, KeycloakSync) else KeycloakSync(keycloak, actor=ADMIN)
        sync.passwords = passwords

    with session_scope(factory) as s:
        for username, (name, roles) in DEMO_PEOPLE.items():
            catalogue.upsert_person(s, username=username, full_name=name, email=f"{username}@demo.sandkasse.invalid",
                                    roles=roles, actor=ADMIN, reason="demo")
        for name, file, roles, description in (
            ("sick-leave", "sick_leave.parquet", SICK_LEAVE_ROLES, "Sick-leave episodes with the employee's unit and job (synthetic)"),
            ("staff", "staff.parquet", STAFF_ROLES, "Staff register: one row per employee with contracted days (synthetic)"),
        ):
            try:
                catalogue.get_dataset(s, name)
            except catalogue.NotFound:
                catalogue.create_dataset(
                    s, name=name, source=data_dir / file, columns=roles, description=description,
                    owning_unit="HR unit", classification="special-category" if name == "sick-leave" else "personal",
                    legal_basis="GDPR art. 6(1)(e), 9(2)(j); Personopplysningsloven § 9", actor=ADMIN, reason="demo",
                )

        try:
            catalogue.get_dataset(s, "population")
        except catalogue.NotFound:
            catalogue.create_dataset(
                s, name="population", source=population_dir / "population.parquet", columns=POPULATION_ROLES,
                description="Population register of Oslo: district, sub-district, age, gender (synthetic); "
                "source of the open-data tables (sandkasse publication)", owning_unit="Statistics unit",
                classification="personal", legal_basis="GDPR art. 6(1)(e)", actor=ADMIN, reason="demo",
            )
    with session_scope(factory) as s:  # one application waiting for each role of the portal
        s.info[VAR_DIR_KEY] = str(var_dir)  # each submission gets its pre-assessment and synthetic twin
        if master_key is not None:
            s.info[NOISE_KEY] = twin_noise_key(master_key)
        seed_applications(s, today, ADMIN)

    overrides: list[str] = []
    for slug in DEMO_PROJECTS:
        spec = _spec(slug, today)
        with session_scope(factory) as s:
            project = find_project(s, slug)
            if project is None or project.status in (ProjectStatus.draft, ProjectStatus.approved):
                apply_spec(s, spec.model_copy(update={"status": ProjectStatus.approved}), actor=ADMIN, var_dir=var_dir)
                project = find_project(s, slug)
                build_project_extracts(s, project, master_key=master_key, var_dir=var_dir, actor=ADMIN)
                for extract in project.extracts:
                    if not extract.risk_ok and lifecycle.covering_override(s, extract) is None:
                        lifecycle.record_risk_override(s, slug, extract.dataset.name, actor=ADMIN, reason=OVERRIDE_REASON)
                        overrides.append(f"{slug}/{extract.dataset.name} (k={extract.min_k})")
        with session_scope(factory) as s:
            apply_spec(s, spec, actor=ADMIN, keycloak=sync, master_key=master_key, var_dir=var_dir)

    with session_scope(factory) as s:
        if sync is not None:
            sync.sync(s)
            for username, password in passwords.items():  # printed passwords must work on every run
                sync.admin.set_user_password(sync.admin.get_user_id(username), password, temporary=False)
        users = {
            u: DemoUser(u, name, list(roles), passwords.get(u)) for u, (name, roles) in DEMO_PEOPLE.items()
        }
        for slug in DEMO_PROJECTS:
            for member in find_project(s, slug).members:
                if member.username in users:
                    users[member.username].projects[slug] = member.role.value

    return DemoInfo(
        data_dir=data_dir,
        datasets=["sick-leave", "staff", "population"],
        projects={slug: var_dir / "projects" / slug / "data" for slug in DEMO_PROJECTS},
        users=users,
        keycloak_synced=sync is not None,
        risk_overrides=overrides,
        population_dir=population_dir,
    )
