"""data-access applications: applications, decisions, comments, dataset owners, e-mail notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "prov_applications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("applicant", sa.String(255), nullable=False),
        sa.Column("applicant_email", sa.String(320), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("amends", sa.String(63), nullable=True),
        sa.Column("project_slug", sa.String(63), nullable=True),
        sa.Column("provision_error", sa.Text(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("submitted_at", tz, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_prov_applications"),
    )
    op.create_index("ix_prov_applications_applicant", "prov_applications", ["applicant"])
    op.create_index("ix_prov_applications_state", "prov_applications", ["state"])
    op.create_table(
        "prov_application_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("decider", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prov_application_decisions"),
        sa.ForeignKeyConstraint(["application_id"], ["prov_applications.id"], ondelete="CASCADE",
                                name="fk_prov_application_decisions_application_id_prov_applications"),
    )
    op.create_index("ix_prov_application_decisions_application_id", "prov_application_decisions", ["application_id"])
    op.create_table(
        "prov_application_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("at", tz, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prov_application_comments"),
        sa.ForeignKeyConstraint(["application_id"], ["prov_applications.id"], ondelete="CASCADE",
                                name="fk_prov_application_comments_application_id_prov_applications"),
    )
    op.create_index("ix_prov_application_comments_application_id", "prov_application_comments", ["application_id"])
    op.create_table(
        "prov_dataset_owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prov_dataset_owners"),
        sa.ForeignKeyConstraint(["dataset_id"], ["prov_datasets.id"], ondelete="CASCADE",
                                name="fk_prov_dataset_owners_dataset_id_prov_datasets"),
        sa.UniqueConstraint("dataset_id", "username", name="uq_prov_dataset_owners_dataset_id"),
    )
    op.create_index("ix_prov_dataset_owners_username", "prov_dataset_owners", ["username"])
    op.create_table(
        "prov_application_notices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("claimed_at", tz, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", tz, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prov_application_notices"),
    )
    op.create_index("ix_prov_application_notices_application_id", "prov_application_notices", ["application_id"])
    op.create_index("ix_prov_application_notices_sent_at", "prov_application_notices", ["sent_at"])


def downgrade() -> None:
    for table in ("prov_application_notices", "prov_dataset_owners", "prov_application_comments",
                  "prov_application_decisions", "prov_applications"):
        op.drop_table(table)
