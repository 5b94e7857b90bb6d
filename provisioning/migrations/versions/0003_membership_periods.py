"""membership periods (former members are remembered) and lower-case user names

Members removed before this revision are recovered from the audit chain's ``member.add`` and
``member.remove`` events, so a checker who left a project last year still cannot review it. User
names in members and people are lower-cased (Keycloak's spelling); two spellings of one name in the
same project are refused with a message rather than merged silently.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _lower_names(bind, table: str, scope: str | None) -> None:
    t = sa.table(table, sa.column("id"), sa.column("username"), *([sa.column(scope)] if scope else []))
    rows = bind.execute(sa.select(t)).all()
    seen: dict[tuple, str] = {}
    for row in rows:
        key = (getattr(row, scope) if scope else None, row.username.strip().lower())
        if key in seen and seen[key] != row.username:
            raise RuntimeError(f"{table}: {seen[key]!r} and {row.username!r} are one user name in lower case; "
                               "remove one of them before upgrading")
        seen[key] = row.username
    for row in rows:
        if row.username != row.username.strip().lower():
            bind.execute(sa.update(t).where(t.c.id == row.id).values(username=row.username.strip().lower()))


def upgrade() -> None:
    op.create_table('prov_membership_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_membership_periods_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_membership_periods'))
    )
    with op.batch_alter_table('prov_membership_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prov_membership_periods_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prov_membership_periods_username'), ['username'], unique=False)

    bind = op.get_bind()
    _lower_names(bind, "prov_members", "project_id")
    _lower_names(bind, "prov_people", None)

    projects = sa.table("prov_projects", sa.column("id"), sa.column("slug"))
    ids = {slug: pid for pid, slug in bind.execute(sa.select(projects.c.id, projects.c.slug))}
    events = sa.table("prov_audit_events", sa.column("seq"), sa.column("at", sa.DateTime(timezone=True)), sa.column("action"),
                      sa.column("object_id"), sa.column("detail"))
    periods: list[dict] = []
    open_: dict[tuple[int, str], dict] = {}
    for ev in bind.execute(sa.select(events).where(events.c.action.in_(["member.add", "member.remove"])).order_by(events.c.seq)):
        username = str(json.loads(ev.detail or "{}").get("username") or "").strip().lower()
        pid = ids.get(ev.object_id)
        if not username or pid is None:
            continue
        key = (pid, username)
        if ev.action == "member.add" and key not in open_:
            open_[key] = {"project_id": pid, "username": username, "joined_at": _aware(ev.at), "left_at": None}
            periods.append(open_[key])
        elif ev.action == "member.remove":
            period = open_.pop(key, None)
            if period is None:  # added before the chain began
                period = {"project_id": pid, "username": username, "joined_at": _aware(ev.at), "left_at": None}
                periods.append(period)
            period["left_at"] = _aware(ev.at)
    members = sa.table("prov_members", sa.column("project_id"), sa.column("username"), sa.column("added_at", sa.DateTime(timezone=True)))
    for row in bind.execute(sa.select(members)):
        if (row.project_id, row.username) not in open_:
            periods.append({"project_id": row.project_id, "username": row.username, "joined_at": _aware(row.added_at), "left_at": None})
    for key in list(open_):  # the chain says added, the table says gone (removed outside the CLI): closed now
        if not bind.execute(sa.select(members.c.username).where(members.c.project_id == key[0], members.c.username == key[1])).first():
            open_[key]["left_at"] = datetime.now(UTC)
    if periods:
        table = sa.table("prov_membership_periods", sa.column("project_id"), sa.column("username"),
                         sa.column("joined_at"), sa.column("left_at"))
        op.bulk_insert(table, periods)


def downgrade() -> None:
    with op.batch_alter_table('prov_membership_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prov_membership_periods_username'))
        batch_op.drop_index(batch_op.f('ix_prov_membership_periods_project_id'))
    op.drop_table('prov_membership_periods')
