"""re-executions of the notebook attached to a request

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 08:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'egress_notebook_runs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('request_id', sa.String(length=32), nullable=False),
        sa.Column('turn', sa.Integer(), nullable=False),
        sa.Column('notebook_version_id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.Column('reason_sealed', sa.Text(), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['request_id'], ['egress_requests.id'],
                                name=op.f('fk_egress_notebook_runs_request_id_egress_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_egress_notebook_runs')),
        sa.UniqueConstraint('request_id', 'turn', name='request_turn'),
    )
    op.create_index(op.f('ix_egress_notebook_runs_request_id'), 'egress_notebook_runs', ['request_id'])
    op.create_index(op.f('ix_egress_notebook_runs_status'), 'egress_notebook_runs', ['status'])


def downgrade() -> None:
    op.drop_index(op.f('ix_egress_notebook_runs_status'), table_name='egress_notebook_runs')
    op.drop_index(op.f('ix_egress_notebook_runs_request_id'), table_name='egress_notebook_runs')
    op.drop_table('egress_notebook_runs')
