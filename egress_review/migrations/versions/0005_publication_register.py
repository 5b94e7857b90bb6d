"""publication register: every table published on the open web, with its cells

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 08:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'egress_publications',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('population', sa.String(length=200), nullable=False),
        sa.Column('project', sa.String(length=100), nullable=False),
        sa.Column('published_by', sa.String(length=255), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('method', sa.String(length=20), nullable=False),
        sa.Column('threshold', sa.Integer(), nullable=False),
        sa.Column('dimensions', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_egress_publications')),
        sa.UniqueConstraint('name', name=op.f('uq_egress_publications_name')),
    )
    op.create_index(op.f('ix_egress_publications_population'), 'egress_publications', ['population'])
    op.create_table(
        'egress_published_cells',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('publication_id', sa.String(length=32), nullable=False),
        sa.Column('coords', sa.Text(), nullable=False),
        sa.Column('true_count', sa.Integer(), nullable=False),
        sa.Column('value', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['publication_id'], ['egress_publications.id'],
                                name=op.f('fk_egress_published_cells_publication_id_egress_publications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_egress_published_cells')),
    )
    op.create_index(op.f('ix_egress_published_cells_publication_id'), 'egress_published_cells', ['publication_id'])
    op.create_table(
        'egress_publication_locks',
        sa.Column('population', sa.String(length=200), nullable=False),
        sa.Column('publications', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('population', name=op.f('pk_egress_publication_locks')),
    )


def downgrade() -> None:
    op.drop_table('egress_publication_locks')
    op.drop_index(op.f('ix_egress_published_cells_publication_id'), table_name='egress_published_cells')
    op.drop_table('egress_published_cells')
    op.drop_index(op.f('ix_egress_publications_population'), table_name='egress_publications')
    op.drop_table('egress_publications')
