"""Make Keycloak match provisioning: accounts for registered people (created, enabled or disabled),
their realm roles, and one group per project (``<group_prefix><slug>``) holding exactly the members of
that project while it is open. Idempotent: a second run changes nothing. Everything that would fail is
checked before the first change, so a refused sync leaves Keycloak as it was.

Admin credentials come from the environment or ``var/secrets`` (see ``policies/provisioning.yaml``),
never from the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import accounts, audit
from provisioning.errors import SyncError
from provisioning.models import Person, Project, ProjectStatus
from provisioning.policy import ProvisioningPolicy, current
from sandkasse.settings import Settings, get_settings
from sandkasse.usernames import normalise_username


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    roles_added: list[str] = field(default_factory=list)  # "user:role"
    roles_removed: list[str] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # "group:user"
    removed: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(len(v) for v in vars(self).values())

    def as_dict(self) -> dict[str, list[str]]:
        return {k: v for k, v in vars(self).items() if v}


def admin_credentials(settings: Settings | None = None, policy: ProvisioningPolicy | None = None) -> tuple[str, str]:
    """(user, password) from the environment, else from ``var/secrets/<secrets_file>`` (KEY=VALUE lines)."""
    settings = settings or get_settings()
    policy = policy or current()
    kc = policy.keycloak
    user, password = os.environ.get(kc.admin_user_env), os.environ.get(kc.admin_password_env)
    path = settings.var_dir / kc.secrets_file
    if (not user or not password) and path.is_file():
        values = dict(
            line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")
        )
        user = user or values.get(kc.admin_user_env, "").strip()
        password = password or values.get(kc.admin_password_env, "").strip()
    if not user or not password:
        raise SyncError(
            f"no Keycloak admin credentials: set {kc.admin_user_env} and {kc.admin_password_env}, or write them to {path}"
        )
    return user, password


def connect(settings: Settings | None = None, policy: ProvisioningPolicy | None = None) -> KeycloakAdmin:
    settings = settings or get_settings()
    user, password = admin_credentials(settings, policy)
    conn = KeycloakOpenIDConnection(
        server_url=settings.keycloak_url, username=user, password=password, realm_name=settings.keycloak_realm,
        user_realm_name="master", client_id="admin-cli", verify=True, timeout=30,
    )
    return KeycloakAdmin(connection=conn)


def _is_open(project: Project, today: date) -> bool:
    return project.status is ProjectStatus.active and project.start_date <= today <= project.end_date


class KeycloakSync:
    """Sync against one realm through ``admin`` (a python-keycloak client already bound to the realm)."""

    def __init__(self, admin: KeycloakAdmin, policy: ProvisioningPolicy | None = None, *, actor: str = "system",
                 passwords: dict[str, str] | None = None) -> None:
        self.admin = admin
        self.policy = policy or current()
        self.actor = actor
        # Initial passwords for accounts this sync creates (demo only); real users set theirs via Keycloak.
        self.passwords = passwords or {}

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs) -> KeycloakSync:  # noqa: ANN003
        return cls(connect(settings, kwargs.get("policy")), **kwargs)

    def group_name(self, slug: str) -> str:
        return f"{self.policy.keycloak.group_prefix}{slug}"

    # -- desired state ----------------------------------------------------------------------------

    def _desired(self, session: Session, slugs: list[str] | None, today: date) -> tuple[dict[str, set[str]], dict[str, Person]]:
        query = select(Project)
        if slugs is not None:
            query = query.where(Project.slug.in_(slugs))
        groups: dict[str, set[str]] = {}
        for project in session.execute(query).scalars():
            if project.status is ProjectStatus.draft:
                continue
            groups[self.group_name(project.slug)] = {normalise_username(m.username) for m in project.members} if _is_open(project, today) else set()
        people = {normalise_username(p.username): p for p in session.execute(select(Person)).scalars()}
        return groups, people

    def sync(self, session: Session, slugs: list[str] | None = None, today: date | None = None) -> SyncReport:
        """Sync everything (or only the named projects' groups and their members' accounts)."""
        today = today or date.today()
        groups, people = self._desired(session, slugs, today)
        members = set().union(*groups.values()) if groups else set()
        managed_users = set(people) if slugs is None else {u for u in members if u in people}

        # Check before changing anything: every member needs an account now or one this sync creates.
        ids: dict[str, str | None] = {u: self.admin.get_user_id(u) for u in sorted(members | managed_users)}
        missing = sorted(u for u in members if ids[u] is None and not (u in people and people[u].enabled))
        if missing:
            raise SyncError(
                f"no Keycloak account for project member(s) {', '.join(missing)}; register them with "
                f"'sandkasse-admin person add' so the sync can create the account, or remove them from the project"
            )
        # A registered person's name taken by an account that is not theirs (self-registration lets anyone
        # pick a name: an invited member's, a new DPO's) is never given their roles or projects.
        proved = {u: self._is_theirs(ids[u], people[u]) for u in members | managed_users if ids[u] is not None and u in people}
        squatted = sorted(u for u, theirs in proved.items() if not theirs)
        if squatted:
            raise SyncError(
                f"the Keycloak account(s) {', '.join(squatted)} exist but are not the registered person's (e-mail "
                f"not verified, or another address than the registered one): delete them, or verify the address in Keycloak, "
                f"before they get roles or projects"
            )
        # A name whose account was deleted is a tombstone (provisioning.accounts): a new account under it
        # (self-registered after the deletion) inherits no project, unless it is a registered person's, proved.
        tombstoned = sorted(u for u in members | managed_users if ids[u] is not None and not proved.get(u)
                            and accounts.bound_to(session, u) not in (None, ids[u]))
        if tombstoned:
            raise SyncError(
                f"the Keycloak account(s) {', '.join(tombstoned)} are not the accounts these names belonged to (the "
                f"earlier ones were deleted): register the person with a verified address, or release the name "
                f"('sandkasse-admin person release-name'), before they get roles or projects"
            )
        disabled_members = sorted(u for u in members if u in people and not people[u].enabled)
        report = SyncReport()
        self._ensure_roles()

        member_role = self.policy.keycloak.member_role
        all_members = self._members_of_open_projects(session, today)
        for username in sorted(managed_users | members):
            person = people.get(username)
            user_id = ids[username]
            if user_id is None:
                user_id = self._create(person, report)  # type: ignore[arg-type]
                ids[username] = user_id
            elif person is not None:
                self._set_enabled(user_id, username, person.enabled, report)
            why = ("made by the sync" if username in report.created
                   else "a registered person's account (verified address)" if proved.get(username) else "account in use")
            accounts.bind(session, username, user_id, via="keycloak-sync", actor=self.actor, reason=why)
            wanted_roles = set(person.roles) if person is not None else set()
            if username in all_members:
                wanted_roles.add(member_role)
            self._set_roles(user_id, username, wanted_roles, exact=person is not None, report=report)

        for name, wanted in groups.items():
            wanted = wanted - set(disabled_members)
            group_id = self._ensure_group(name, report)
            current = {normalise_username(u["username"]): u["id"] for u in self.admin.get_group_members(group_id)}
            for username in sorted(wanted - set(current)):
                self.admin.group_user_add(ids[username], group_id)
                report.added.append(f"{name}:{username}")
            for username in sorted(set(current) - wanted):
                self.admin.group_user_remove(current[username], group_id)
                report.removed.append(f"{name}:{username}")

        if report.changes:
            audit.record(session, actor=self.actor, action="keycloak.sync", object_type="keycloak",
                         object_id=",".join(slugs) if slugs else "*", role="system", **report.as_dict())
        return report

    def sync_project(self, session: Session, project: Project) -> SyncReport:
        return self.sync(session, [project.slug])

    def _members_of_open_projects(self, session: Session, today: date) -> set[str]:
        out: set[str] = set()
        for project in session.execute(select(Project).where(Project.status == ProjectStatus.active)).scalars():
            if _is_open(project, today):
                out |= {normalise_username(m.username) for m in project.members}
        return out

    # -- Keycloak changes -------------------------------------------------------------------------

    def _ensure_roles(self) -> None:
        have = {r["name"] for r in self.admin.get_realm_roles()}
        for role in self.policy.keycloak.realm_roles:
            if role not in have:
                self.admin.create_realm_role({"name": role}, skip_exists=True)

    def _create(self, person: Person, report: SyncReport) -> str:
        username = normalise_username(person.username)
        first, _, last = (person.full_name or username).partition(" ")
        user_id = self.admin.create_user(
            {
                "username": username,
                "enabled": True,
                "firstName": first,
                "lastName": last or "-",
                "email": person.email or f"{username}@sandkasse.invalid",
                "emailVerified": True,
            },
            exist_ok=False,
        )
        password = self.passwords.get(username) or self.passwords.get(person.username)
        if password:
            self.admin.set_user_password(user_id, password, temporary=False)
        report.created.append(username)
        return user_id

    def _is_theirs(self, user_id: str, person: Person) -> bool:
        """An account the sync (or an admin) made, or whose owner proved the address: its e-mail is
        verified and is the person's (or the placeholder the sync gives a person without one)."""
        account = self.admin.get_user(user_id)
        email = (account.get("email") or "").strip().lower()
        if not account.get("emailVerified") or not email:
            return False
        username = normalise_username(person.username)
        return not person.email or email in {person.email.strip().lower(), f"{username}@sandkasse.invalid"}

    def _set_enabled(self, user_id: str, username: str, enabled: bool, report: SyncReport) -> None:
        if bool(self.admin.get_user(user_id).get("enabled")) != enabled:
            self.admin.update_user(user_id, {"enabled": enabled})
            (report.enabled if enabled else report.disabled).append(username)

    def _set_roles(self, user_id: str, username: str, wanted: set[str], *, exact: bool, report: SyncReport) -> None:
        managed = set(self.policy.keycloak.realm_roles)
        have = {r["name"] for r in self.admin.get_realm_roles_of_user(user_id)} & managed
        add = sorted((wanted & managed) - have)
        # Roles are removed only from registered people; accounts made elsewhere keep theirs.
        remove = sorted(have - wanted) if exact else []
        if add:
            self.admin.assign_realm_roles(user_id, [self.admin.get_realm_role(r) for r in add])
            report.roles_added += [f"{username}:{r}" for r in add]
        if remove:
            self.admin.delete_realm_roles_of_user(user_id, [self.admin.get_realm_role(r) for r in remove])
            report.roles_removed += [f"{username}:{r}" for r in remove]

    def _ensure_group(self, name: str, report: SyncReport) -> str:
        for group in self.admin.get_groups({"search": name, "exact": "true"}):
            if group["name"] == name:
                return group["id"]
        group_id = self.admin.create_group({"name": name}, skip_exists=True)
        report.groups_created.append(name)
        if group_id:
            return group_id
        return next(g["id"] for g in self.admin.get_groups({"search": name, "exact": "true"}) if g["name"] == name)
