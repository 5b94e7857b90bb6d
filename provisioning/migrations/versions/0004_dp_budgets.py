"""differential-privacy budget ledger per (project, dataset)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prov_dp_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("total_micro", sa.BigInteger(), nullable=False),
        sa.Column("spent_micro", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prov_dp_budgets"),
        sa.ForeignKeyConstraint(["project_id"], ["prov_projects.id"], name="fk_prov_dp_budgets_project_id_prov_projects", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["prov_datasets.id"], name="fk_prov_dp_budgets_dataset_id_prov_datasets", ondelete="RESTRICT"),
        sa.UniqueConstraint("project_id", "dataset_id", name="uq_prov_dp_budgets_project_id"),
    )


def downgrade() -> None:
    op.drop_table("prov_dp_budgets")
