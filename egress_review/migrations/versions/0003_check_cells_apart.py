"""per-cell check outcomes sealed apart from the rest of the report

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 04:25:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Older versions keep their cells inside check_report_sealed; readers handle both.
    with op.batch_alter_table('egress_file_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_cells_sealed', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('egress_file_versions', schema=None) as batch_op:
        batch_op.drop_column('check_cells_sealed')
