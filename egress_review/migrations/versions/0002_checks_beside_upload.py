"""automatic checks run beside the upload: pending verdict, check lease and time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('egress_file_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_egress_file_versions_verdict'), ['verdict'], unique=False)
    # Versions stored before this revision were checked inside their upload call.
    op.execute("UPDATE egress_file_versions SET checked_at = created_at WHERE checked_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('egress_file_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_egress_file_versions_verdict'))
        batch_op.drop_column('check_attempts')
        batch_op.drop_column('check_claimed_at')
        batch_op.drop_column('checked_at')
