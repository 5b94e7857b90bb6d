"""notification outbox and per-user notification preference

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 05:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'egress_outbox',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=40), nullable=False),
        sa.Column('request_id', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('digest', sa.Boolean(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_egress_outbox')),
    )
    op.create_index(op.f('ix_egress_outbox_request_id'), 'egress_outbox', ['request_id'])
    op.create_index(op.f('ix_egress_outbox_due_at'), 'egress_outbox', ['due_at'])
    op.create_index(op.f('ix_egress_outbox_sent_at'), 'egress_outbox', ['sent_at'])
    op.create_table(
        'egress_notify_prefs',
        sa.Column('username', sa.String(length=255), nullable=False),
        sa.Column('mode', sa.String(length=20), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('username', name=op.f('pk_egress_notify_prefs')),
    )


def downgrade() -> None:
    op.drop_table('egress_notify_prefs')
    op.drop_index(op.f('ix_egress_outbox_sent_at'), table_name='egress_outbox')
    op.drop_index(op.f('ix_egress_outbox_due_at'), table_name='egress_outbox')
    op.drop_index(op.f('ix_egress_outbox_request_id'), table_name='egress_outbox')
    op.drop_table('egress_outbox')
