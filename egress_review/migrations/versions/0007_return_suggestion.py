"""return with the suggested table: a vote's request to attach it, and the attached snapshots

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 08:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('egress_votes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attach_suggestion', sa.Boolean(), nullable=False, server_default='0'))
    op.create_table(
        'egress_return_suggestions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('request_id', sa.String(length=32), nullable=False),
        sa.Column('file_id', sa.String(length=32), nullable=False),
        sa.Column('version_id', sa.String(length=32), nullable=False),
        sa.Column('turn', sa.Integer(), nullable=False),
        sa.Column('csv_sealed', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('blank_cells', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['request_id'], ['egress_requests.id'],
                                name=op.f('fk_egress_return_suggestions_request_id_egress_requests')),
        sa.ForeignKeyConstraint(['file_id'], ['egress_files.id'],
                                name=op.f('fk_egress_return_suggestions_file_id_egress_files')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_egress_return_suggestions')),
        sa.UniqueConstraint('file_id', 'version_id', name='file_version'),
    )
    op.create_index(op.f('ix_egress_return_suggestions_request_id'), 'egress_return_suggestions', ['request_id'])
    op.create_index(op.f('ix_egress_return_suggestions_file_id'), 'egress_return_suggestions', ['file_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_egress_return_suggestions_file_id'), table_name='egress_return_suggestions')
    op.drop_index(op.f('ix_egress_return_suggestions_request_id'), table_name='egress_return_suggestions')
    op.drop_table('egress_return_suggestions')
    with op.batch_alter_table('egress_votes', schema=None) as batch_op:
        batch_op.drop_column('attach_suggestion')
