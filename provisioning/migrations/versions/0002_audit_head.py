"""sealed audit chain head

An existing chain is adopted: the head points at its last event, sealed under provisioning's head key
when a master key is configured (else left unsealed, which ``audit verify`` reports until the next
event is recorded with the key).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from provisioning.audit import seal_key
from sandkasse.audit import head_values


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prov_audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_audit_head'))
    )
    events = sa.table("prov_audit_events", sa.column("seq"), sa.column("hash"))
    last = op.get_bind().execute(sa.select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)).first()
    seq, hash_ = (last.seq, last.hash) if last is not None else (0, "")
    head = sa.table("prov_audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"), sa.column("seal"))
    op.bulk_insert(head, [head_values(seq, hash_, seal_key() if seq else None)])


def downgrade() -> None:
    op.drop_table('prov_audit_head')
