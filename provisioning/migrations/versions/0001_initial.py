"""catalogue, projects, members, entitlements, extracts, keys, audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prov_audit_events',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_prov_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_prov_audit_events_hash'))
    )
    op.create_table('prov_datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owning_unit', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('classification', sa.Enum('open', 'internal', 'personal', 'special-category', name='classification', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_datasets')),
    sa.UniqueConstraint('name', name=op.f('uq_prov_datasets_name'))
    )
    op.create_table('prov_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('full_name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('realm_roles', sa.String(length=1000), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_people')),
    sa.UniqueConstraint('username', name=op.f('uq_prov_people_username'))
    )
    op.create_table('prov_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('dpia_reference', sa.String(length=255), nullable=False),
    sa.Column('data_controller', sa.String(length=255), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'approved', 'active', 'suspended', 'closed', name='project_status', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_projects')),
    sa.UniqueConstraint('slug', name=op.f('uq_prov_projects_slug'))
    )
    op.create_table('prov_dataset_columns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('direct_identifier', 'quasi_identifier', 'sensitive', 'other', name='column_role', native_enum=False, length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['prov_datasets.id'], name=op.f('fk_prov_dataset_columns_dataset_id_prov_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_dataset_columns')),
    sa.UniqueConstraint('dataset_id', 'name', name=op.f('uq_prov_dataset_columns_dataset_id'))
    )
    op.create_table('prov_entitlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('row_filter', sa.Text(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['prov_datasets.id'], name=op.f('fk_prov_entitlements_dataset_id_prov_datasets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_entitlements_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_entitlements')),
    sa.UniqueConstraint('project_id', 'dataset_id', name=op.f('uq_prov_entitlements_project_id'))
    )
    op.create_table('prov_extracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('files', sa.Text(), nullable=False),
    sa.Column('columns', sa.Text(), nullable=False),
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('min_k', sa.Integer(), nullable=True),
    sa.Column('risk_ok', sa.Boolean(), nullable=False),
    sa.Column('risk_report', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['prov_datasets.id'], name=op.f('fk_prov_extracts_dataset_id_prov_datasets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_extracts_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_extracts')),
    sa.UniqueConstraint('project_id', 'dataset_id', name=op.f('uq_prov_extracts_project_id'))
    )
    op.create_table('prov_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('researcher', 'lead', name='member_role', native_enum=False, length=32), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_members_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_members')),
    sa.UniqueConstraint('project_id', 'username', name=op.f('uq_prov_members_project_id'))
    )
    with op.batch_alter_table('prov_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prov_members_username'), ['username'], unique=False)

    op.create_table('prov_project_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_project_keys_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_project_keys')),
    sa.UniqueConstraint('project_id', name=op.f('uq_prov_project_keys_project_id'))
    )
    op.create_table('prov_risk_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('accepted_k', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['prov_datasets.id'], name=op.f('fk_prov_risk_overrides_dataset_id_prov_datasets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['prov_projects.id'], name=op.f('fk_prov_risk_overrides_project_id_prov_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_risk_overrides'))
    )
    op.create_table('prov_entitlement_columns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entitlement_id', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=255), nullable=False),
    sa.Column('transformation', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entitlement_id'], ['prov_entitlements.id'], name=op.f('fk_prov_entitlement_columns_entitlement_id_prov_entitlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prov_entitlement_columns')),
    sa.UniqueConstraint('entitlement_id', 'column_name', name=op.f('uq_prov_entitlement_columns_entitlement_id'))
    )


def downgrade() -> None:
    op.drop_table('prov_entitlement_columns')
    op.drop_table('prov_risk_overrides')
    op.drop_table('prov_project_keys')
    with op.batch_alter_table('prov_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prov_members_username'))

    op.drop_table('prov_members')
    op.drop_table('prov_extracts')
    op.drop_table('prov_entitlements')
    op.drop_table('prov_dataset_columns')
    op.drop_table('prov_projects')
    op.drop_table('prov_people')
    op.drop_table('prov_datasets')
    op.drop_table('prov_audit_events')
