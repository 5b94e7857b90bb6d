"""``sandkasse-admin``: the administrator's command line for provisioning.

Every command runs in one transaction: it either does all of its work (and records its audit events)
or, on any error, prints what was wrong and changes nothing. ``--actor`` says who acts (default: the
``SANDKASSE_ACTOR`` environment variable, else the login name); ``--reason`` says why. The risk
override is recorded under the operating-system account running the command, never a free-text actor
(:mod:`provisioning.operator`).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer
from keycloak.exceptions import KeycloakError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from provisioning import audit, catalogue, lifecycle, projects
from provisioning.errors import ProvisioningError
from provisioning.operator import accountable_operator
from sandkasse.db import session_scope
from sandkasse.keys import MasterKeyError

app = typer.Typer(help="Provision Sandkasse: datasets, projects, members, grants, extracts, risk, Keycloak", no_args_is_help=True)
dataset_app = typer.Typer(help="The datasets catalogue", no_args_is_help=True)
person_app = typer.Typer(help="People who may hold Keycloak accounts", no_args_is_help=True)
project_app = typer.Typer(help="Projects and their lifecycle", no_args_is_help=True)
member_app = typer.Typer(help="Project members", no_args_is_help=True)
extract_app = typer.Typer(help="Project extracts", no_args_is_help=True)
risk_app = typer.Typer(help="Re-identification risk of extracts", no_args_is_help=True)
keycloak_app = typer.Typer(help="Keycloak accounts, roles and project groups", no_args_is_help=True)
audit_app = typer.Typer(help="Provisioning's audit chain", no_args_is_help=True)
for sub, name in ((dataset_app, "dataset"), (person_app, "person"), (project_app, "project"), (member_app, "member"),
                  (extract_app, "extract"), (risk_app, "risk"), (keycloak_app, "keycloak"), (audit_app, "audit")):
    app.add_typer(sub, name=name)

console = Console()
err = Console(stderr=True)


class State:
    db: str | None = None
    actor: str = ""
    claimed_actor: str | None = None  # --actor / SANDKASSE_ACTOR as given (free text)
    var_dir: Path | None = None


state = State()


@app.callback()
def main(
    db: str = typer.Option(None, envvar="SANDKASSE_DATABASE_URL", help="Database URL (default: settings)"),
    actor: str = typer.Option(None, envvar="SANDKASSE_ACTOR", help="Who acts (recorded in the audit log)"),
) -> None:
    state.db = db
    state.claimed_actor = actor
    state.actor = actor or getpass.getuser()


@contextmanager
def transaction() -> Iterator[Session]:
    """One transaction; errors become a clear message and exit code 1, with nothing changed."""
    from provisioning.db import session_factory

    try:
        with session_scope(session_factory(state.db)) as session:
            yield session
    except (ProvisioningError, MasterKeyError) as exc:
        err.print(f"[red]error:[/] {exc}\n[dim]nothing was changed[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    except KeycloakError as exc:
        err.print(f"[red]error:[/] Keycloak refused or is unreachable: {exc}\n[dim]nothing was changed in the database[/]", soft_wrap=True)
        raise typer.Exit(1) from None


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise ProvisioningError(f"{what} {value!r} must look like NAME=VALUE")
        out[name.strip()] = rest.strip()
    return out


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ProvisioningError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def _keycloak(use: bool):  # noqa: ANN202
    if not use:
        return None
    from provisioning.keycloak_sync import KeycloakSync

    return KeycloakSync.from_settings(actor=state.actor)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _extract_steps(progress: Progress, task, total: int):  # noqa: ANN001, ANN202
    """A callback for the extract builder: each call starts the next extract, so the bar shows the
    ones finished before it."""
    progress.update(task, total=total, completed=0)
    calls = 0

    def step(what: str) -> None:
        nonlocal calls
        progress.update(task, description=f"building extract {what}", completed=calls)
        calls += 1

    return step


# -- datasets ---------------------------------------------------------------------------------------


@dataset_app.command("add")
def dataset_add(
    name: str,
    source: Path = typer.Option(..., help="Parquet or CSV file"),
    column: list[str] = typer.Option([], "--column", "-c", help="COLUMN=ROLE (direct_identifier, quasi_identifier, sensitive, other)"),
    roles_file: Path = typer.Option(None, help="YAML mapping column -> role (instead of --column)"),
    description: str = "",
    owning_unit: str = "",
    legal_basis: str = "",
    classification: str = typer.Option("personal", help="open, internal, personal, special-category"),
    reason: str = "",
) -> None:
    """Register a dataset; every column needs a role."""
    import yaml

    with transaction() as s:
        roles = _pairs(column, "--column")
        if roles_file is not None:
            roles = {**(yaml.safe_load(roles_file.read_text()) or {}), **roles}
        ds = catalogue.create_dataset(s, name=name, source=source, columns=roles, description=description,
                                      owning_unit=owning_unit, legal_basis=legal_basis, classification=classification,
                                      actor=state.actor, reason=reason)
        console.print(f"dataset [bold]{ds.name}[/] registered with {len(ds.columns)} columns")


@dataset_app.command("list")
def dataset_list() -> None:
    from sqlalchemy import select

    from provisioning.models import Dataset

    with transaction() as s:
        table = Table("name", "classification", "columns", "source")
        for ds in s.execute(select(Dataset).order_by(Dataset.name)).scalars():
            table.add_row(ds.name, ds.classification.value, str(len(ds.columns)), ds.source)
        console.print(table)


# -- the catalogue for applicants (metadata in policies/catalogue.yaml) -------------------------------

catalogue_app = typer.Typer(help="The catalogue as applicants read it: search, show, DCAT-AP-NO export", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")


def _catalogue():  # noqa: ANN202
    from provisioning import catalogue_meta
    from sandkasse.policy import PolicyError

    try:
        policy = catalogue_meta.load_policy_file()
    except PolicyError as exc:
        err.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    with transaction() as s:
        return policy, catalogue_meta.load_catalogue(s, policy)


@catalogue_app.command("export")
def catalogue_export(
    fmt: str = typer.Option("turtle", "--format", help="turtle or jsonld"),
    out: Path = typer.Option(None, "--out", help="Write to this file (default: standard output)"),
) -> None:
    """Every dataset as DCAT-AP-NO (Turtle or JSON-LD) for data.norge.no-style harvesters."""
    from provisioning import dcat

    if fmt not in ("turtle", "jsonld"):
        err.print(f"[red]error:[/] unknown format {fmt!r}; use turtle or jsonld")
        raise typer.Exit(2)
    policy, metas = _catalogue()
    text = dcat.export(metas, policy, fmt)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"{len(metas)} datasets written to {out}")


@catalogue_app.command("search")
def catalogue_search(query: str = typer.Argument("", help="Words to look for (all must match)")) -> None:
    from provisioning.catalogue_meta import search

    _, metas = _catalogue()
    table = Table("name", "title", "classification", "rows", "period", "owning unit")
    for m in search(metas, query):
        period = f"{m.period.start} – {m.period.end}" if m.period else ""
        table.add_row(m.name, m.title, m.classification, f"{m.rows:,}" if m.rows is not None else "", period, m.owning_unit)
    console.print(table)


@catalogue_app.command("show")
def catalogue_show(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    _, metas = _catalogue()
    meta = next((m for m in metas if m.name == name), None)
    if meta is None:
        err.print(f"[red]error:[/] no dataset named {name!r}")
        raise typer.Exit(1)
    if as_json:
        typer.echo(meta.model_dump_json(indent=2))
        return
    console.print(f"[bold]{meta.title}[/] ({meta.name}, {meta.classification}, {meta.rows or 0:,} rows)\n{meta.description}")
    console.print(f"owning unit: {meta.owning_unit}\nlegal basis of collection: {meta.legal_basis}\n"
                  f"update frequency: {meta.update_frequency}", soft_wrap=True)
    table = Table("column", "role", "type", "meaning")
    for c in meta.columns:
        table.add_row(c.name, c.role.value, c.dtype, c.meaning)
    console.print(table)


# -- people -----------------------------------------------------------------------------------------


@dataset_app.command("owner")
def dataset_owner(
    dataset: str,
    username: str,
    remove: bool = typer.Option(False, "--remove", help="No longer an owner"),
    reason: str = "",
) -> None:
    """Name who decides the dataset's part of data-access applications (they need the role dataset-owner)."""
    from provisioning.applications import owners

    with transaction() as s:
        change = owners.remove_owner if remove else owners.add_owner
        done = change(s, dataset, username, actor=state.actor, reason=reason)
        console.print(f"{dataset}: owners {', '.join(owners.owners(s, dataset)) or '-'}" + ("" if done else " (unchanged)"))


@person_app.command("add")
def person_add(
    username: str,
    name: str = typer.Option("", "--name"),
    email: str = "",
    role: list[str] = typer.Option([], "--role", help="Realm role (researcher, output-checker, admin, applicant, dataset-owner, dpo, controller); repeatable"),
    reason: str = "",
) -> None:
    """Register (or update) a person; 'keycloak sync' creates their account."""
    from provisioning.policy import current

    with transaction() as s:
        unknown = set(role) - set(current().keycloak.realm_roles)
        if unknown:
            raise ProvisioningError(f"unknown realm role(s) {', '.join(sorted(unknown))}; use {', '.join(current().keycloak.realm_roles)}")
        catalogue.upsert_person(s, username=username, full_name=name, email=email, roles=role, actor=state.actor, reason=reason)
        console.print(f"person [bold]{username}[/] registered")


@person_app.command("disable")
def person_disable(username: str, reason: str = typer.Option(..., help="Why")) -> None:
    """Disable a person (their account is disabled and leaves every project group at the next sync)."""
    with transaction() as s:
        person = catalogue.get_person(s, username)
        if person is None:
            raise ProvisioningError(f"no person {username!r}")
        catalogue.upsert_person(s, username=username, full_name=person.full_name, email=person.email,
                                roles=person.roles, enabled=False, actor=state.actor, reason=reason)
        console.print(f"person [bold]{username}[/] disabled")


@person_app.command("release-name")
def person_release_name(username: str, reason: str = typer.Option(..., help="Why")) -> None:
    """Let another Keycloak account use a name whose account was deleted (a tombstone until then)."""
    from provisioning import accounts

    with transaction() as s:
        done = accounts.release(s, username, actor=state.actor, reason=reason)
        console.print(f"name [bold]{username}[/] " + ("released" if done else "was not bound to an account"))


# -- projects ---------------------------------------------------------------------------------------


@project_app.command("create")
def project_create(
    slug: str,
    title: str = typer.Option(...),
    start: str = typer.Option(..., help="Start date YYYY-MM-DD"),
    end: str = typer.Option(..., help="End date YYYY-MM-DD"),
    purpose: str = "",
    legal_basis: str = "",
    dpia: str = typer.Option("", help="DPIA reference"),
    controller: str = typer.Option("", help="Data controller"),
    reason: str = "",
) -> None:
    """Create a project (status draft)."""
    with transaction() as s:
        projects.create_project(s, slug=slug, title=title, start_date=_date(start, "start"), end_date=_date(end, "end"),
                                purpose=purpose, legal_basis=legal_basis, dpia_reference=dpia, data_controller=controller,
                                actor=state.actor, reason=reason)
        console.print(f"project [bold]{slug}[/] created (draft)")


@project_app.command("approve")
def project_approve(slug: str, reason: str = typer.Option("", help="Why (e.g. the approval decision)")) -> None:
    with transaction() as s:
        lifecycle.approve(s, slug, actor=state.actor, reason=reason)
        console.print(f"project [bold]{slug}[/] approved")


@project_app.command("activate")
def project_activate(
    slug: str,
    reason: str = "",
    keycloak: bool = typer.Option(True, help="Sync the project's Keycloak group"),
) -> None:
    """Build the extracts, check their risk, activate, and sync Keycloak."""
    with transaction() as s, _progress() as progress:
        task = progress.add_task(f"activating {slug}", total=None)
        steps = _extract_steps(progress, task, len(projects.get_project(s, slug).entitlements))
        lifecycle.activate(s, slug, actor=state.actor, reason=reason, keycloak=_keycloak(keycloak), progress=steps)
    console.print(f"project [bold]{slug}[/] active")


@project_app.command("suspend")
def project_suspend(slug: str, reason: str = typer.Option(..., help="Why"), keycloak: bool = True) -> None:
    """Suspend: members lose access (the hub stops their servers); extracts and key are kept."""
    with transaction() as s:
        lifecycle.suspend(s, slug, actor=state.actor, reason=reason, keycloak=_keycloak(keycloak))
    console.print(f"project [bold]{slug}[/] suspended")


@project_app.command("close")
def project_close(slug: str, reason: str = typer.Option(..., help="Why"), keycloak: bool = True) -> None:
    """Close for good: access revoked, pseudonymisation key destroyed, extracts deleted or archived."""
    from provisioning.keys import scrub_destroyed_keys

    with transaction() as s:
        lifecycle.close(s, slug, actor=state.actor, reason=reason, keycloak=_keycloak(keycloak))
        engine = s.get_bind()
    scrub_destroyed_keys(engine)
    console.print(f"project [bold]{slug}[/] closed; its key is destroyed")


@project_app.command("show")
def project_show(slug: str) -> None:
    from provisioning import api

    with transaction() as s:
        info = api.get_project(s, slug)
        if info is None:
            raise ProvisioningError(f"no project {slug!r}")
        project = projects.get_project(s, slug)
        console.print(f"[bold]{info.slug}[/]: {info.title}  [{info.status}]  {info.start_date} → {info.end_date}")
        console.print(f"purpose: {info.purpose.strip()}\nlegal basis: {info.legal_basis.strip()}\nDPIA: {info.dpia_reference}")
        console.print("members: " + (", ".join(f"{u} ({r})" for u, r in sorted(info.members.items())) or "none"))
        for ent in project.entitlements:
            cols = ", ".join(f"{c.column_name}:{c.transformation}" for c in ent.columns)
            console.print(f"grant {ent.dataset.name}: {cols}" + (f"  where {ent.row_filter}" if ent.row_filter else ""))
        for ex in project.extracts:
            console.print(f"extract {ex.dataset.name}: {ex.rows:,} rows, k={ex.min_k} ({'ok' if ex.risk_ok else 'below policy'}), built {ex.built_at:%Y-%m-%d %H:%M}")
        key = project.key
        console.print("key: " + ("none yet" if key is None else "destroyed" if key.wrapped is None else "present (wrapped)"))


@project_app.command("list")
def project_list() -> None:
    from sqlalchemy import select

    from provisioning.models import Project

    with transaction() as s:
        table = Table("slug", "status", "start", "end", "members")
        for p in s.execute(select(Project).order_by(Project.slug)).scalars():
            table.add_row(p.slug, p.status.value, str(p.start_date), str(p.end_date), str(len(p.members)))
        console.print(table)


# -- members and grants -----------------------------------------------------------------------------


@member_app.command("add")
def member_add(slug: str, username: str, role: str = typer.Option("researcher", help="researcher or lead"), reason: str = "") -> None:
    with transaction() as s:
        projects.add_member(s, slug, username, role, actor=state.actor, reason=reason)
    console.print(f"{username} is {role} in {slug} (run 'keycloak sync' or activate to update Keycloak)")


@member_app.command("remove")
def member_remove(slug: str, username: str, reason: str = "", keycloak: bool = typer.Option(False, help="Sync Keycloak now")) -> None:
    with transaction() as s:
        if not projects.remove_member(s, slug, username, actor=state.actor, reason=reason):
            raise ProvisioningError(f"{username!r} is not a member of {slug!r}")
        sync = _keycloak(keycloak)
        if sync is not None:
            sync.sync_project(s, projects.get_project(s, slug))
    console.print(f"{username} removed from {slug}")


@app.command("grant")
def grant(
    slug: str,
    dataset: str,
    column: list[str] = typer.Option(..., "--column", "-c", help="COLUMN=TRANSFORMATION (keep, pseudonymise, drop, generalise:age5|age10|month|year)"),
    row_filter: str = typer.Option(None, "--filter", help='Rows to include, e.g. council_area == "Health and care"'),
    reason: str = "",
) -> None:
    """Grant a project columns of a dataset (replaces an earlier grant of the same dataset)."""
    with transaction() as s:
        projects.grant(s, slug, dataset, _pairs(column, "--column"), row_filter=row_filter, actor=state.actor, reason=reason)
    console.print(f"{slug} granted {len(column)} column(s) of {dataset}")


# -- extracts and risk ------------------------------------------------------------------------------


@extract_app.command("build")
def extract_build(slug: str) -> None:
    """Build (or rebuild) the project's extracts and their risk reports."""
    from provisioning.extracts import build_project_extracts

    with transaction() as s, _progress() as progress:
        task = progress.add_task("building extracts", total=None)
        project = projects.get_project(s, slug)
        steps = _extract_steps(progress, task, len(project.entitlements))
        built = build_project_extracts(s, project, actor=state.actor, progress=steps)
    for ex in built:
        console.print(f"{ex.dataset.name}: {ex.rows:,} rows, k={ex.min_k} ({'meets policy' if ex.risk_ok else '[red]below policy minimum[/]'})")


@risk_app.command("report")
def risk_report(slug: str, dataset: str = typer.Option(None, help="Only this dataset"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the risk report of the project's extracts (written when the extract was built)."""
    with transaction() as s:
        project = projects.get_project(s, slug)
        folder = lifecycle.project_dir(slug) / "reports"
        shown = 0
        for ex in project.extracts:
            if dataset and ex.dataset.name != dataset:
                continue
            path = folder / f"{ex.dataset.name}.risk.{'json' if as_json else 'md'}"
            if not path.exists():
                raise ProvisioningError(f"no risk report at {path}; run 'extract build {slug}'")
            console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
            shown += 1
        if not shown:
            raise ProvisioningError(f"no extracts built for {slug!r}" + (f" of {dataset!r}" if dataset else ""))


@risk_app.command("override")
def risk_override(slug: str, dataset: str, reason: str = typer.Option(..., help="Why the risk is acceptable")) -> None:
    """An admin accepts an extract below the policy's minimum k (recorded in the audit log under the
    operating-system account running this command; --actor cannot name someone else)."""
    with transaction() as s:
        operator = accountable_operator(state.claimed_actor)
        o = lifecycle.record_risk_override(s, slug, dataset, actor=operator.username, reason=reason,
                                           operator=operator.audit_detail())
    console.print(f"override recorded: {slug}/{dataset} accepted at k={o.accepted_k} by {o.actor}")


# -- Keycloak, declarative files, audit -------------------------------------------------------------


@keycloak_app.command("sync")
def keycloak_sync(project: list[str] = typer.Option(None, "--project", help="Only these projects")) -> None:
    """Make Keycloak match provisioning (idempotent)."""
    from provisioning.keycloak_sync import KeycloakSync

    with transaction() as s:
        report = KeycloakSync.from_settings(actor=state.actor).sync(s, list(project) if project else None)
    console.print(f"Keycloak in sync ({report.changes} change(s))")
    for what, items in report.as_dict().items():
        console.print(f"  {what}: {', '.join(items)}")


@app.command("apply")
def apply(
    files: list[Path] = typer.Argument(..., help="Project YAML files (e.g. policies/projects/*.yaml)"),
    keycloak: bool = typer.Option(True, help="Sync Keycloak for the projects"),
    reason: str = "",
) -> None:
    """Bring projects to what their files declare; re-applying an applied file changes nothing."""
    from provisioning.declarative import apply_spec, load_spec

    with transaction() as s, _progress() as progress:
        specs = [load_spec(f) for f in files]
        sync = _keycloak(keycloak)
        task = progress.add_task("applying", total=None)
        for spec in specs:
            progress.update(task, description=f"applying {spec.slug}")
            done = apply_spec(s, spec, actor=state.actor, reason=reason, keycloak=sync,
                              progress=lambda what: progress.update(task, description=f"building {what}"))
            console.print(f"{spec.slug}: " + (", ".join(done) if done else "unchanged"))
        engine = s.get_bind()
    if any(spec.status.value == "closed" for spec in specs):
        from provisioning.keys import scrub_destroyed_keys

        scrub_destroyed_keys(engine)


@audit_app.command("verify")
def audit_verify() -> None:
    with transaction() as s:
        report = audit.verify(s)
    console.print(str(report))
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("show")
def audit_show(object_id: str = typer.Argument(None), limit: int = 50) -> None:
    with transaction() as s:
        rows = audit.events(s, object_id=object_id)[-limit:]
        table = Table("seq", "when", "who", "what", "object", "detail")
        for e in rows:
            table.add_row(str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, f"{e.object_type}:{e.object_id}",
                          json.dumps(json.loads(e.detail), ensure_ascii=False)[:120])
        console.print(table)


if __name__ == "__main__":
    app(prog_name=os.path.basename(__file__))
