"""Provisioning's tables: the catalogue (datasets and their columns), projects, members, entitlements,
extracts, per-project pseudonymisation keys, risk overrides, known people, and the audit chain.

Table names carry the ``prov_`` prefix because egress_review keeps its own tables in the same database.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sandkasse.audit import AuditEventMixin, AuditHeadMixin, utcnow
from sandkasse.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Classification(str, enum.Enum):
    """How sensitive a dataset is (drives who may approve access)."""

    open = "open"
    internal = "internal"
    personal = "personal"
    special_category = "special-category"


class ColumnRole(str, enum.Enum):
    """What a column means for disclosure: identifiers are pseudonymised or dropped, quasi-identifiers
    enter the k-anonymity check, sensitive columns enter the l-diversity check."""

    direct_identifier = "direct_identifier"
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"
    other = "other"


class ProjectStatus(str, enum.Enum):
    draft = "draft"
    approved = "approved"
    active = "active"
    suspended = "suspended"
    closed = "closed"


class MemberRole(str, enum.Enum):
    researcher = "researcher"
    lead = "lead"


def _enum(e: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a value needs no PostgreSQL type migration.
    return Enum(e, name=name, native_enum=False, values_callable=lambda cls: [m.value for m in cls], length=32)


class Dataset(Base):
    __tablename__ = "prov_datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owning_unit: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(1000))
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[Classification] = mapped_column(_enum(Classification, "classification"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    columns: Mapped[list[DatasetColumn]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetColumn.position"
    )

    def column(self, name: str) -> DatasetColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class DatasetColumn(Base):
    __tablename__ = "prov_dataset_columns"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[ColumnRole] = mapped_column(_enum(ColumnRole, "column_role"))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    dataset: Mapped[Dataset] = relationship(back_populates="columns")


class Project(Base):
    __tablename__ = "prov_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    purpose: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    dpia_reference: Mapped[str] = mapped_column(String(255), default="")
    data_controller: Mapped[str] = mapped_column(String(255), default="")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[ProjectStatus] = mapped_column(_enum(ProjectStatus, "project_status"), default=ProjectStatus.draft)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    members: Mapped[list[Member]] = relationship(back_populates="project", cascade="all, delete-orphan")
    entitlements: Mapped[list[Entitlement]] = relationship(back_populates="project", cascade="all, delete-orphan")
    extracts: Mapped[list[Extract]] = relationship(back_populates="project", cascade="all, delete-orphan")
    key: Mapped[ProjectKey | None] = relationship(back_populates="project", cascade="all, delete-orphan")


class Member(Base):
    __tablename__ = "prov_members"
    __table_args__ = (UniqueConstraint("project_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(255), index=True)
    role: Mapped[MemberRole] = mapped_column(_enum(MemberRole, "member_role"))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="members")


class MembershipPeriod(Base):
    """One stretch of someone's membership of a project, kept after they leave: a former member may
    still not review the project's outputs (conflict of interest outlives the membership)."""

    __tablename__ = "prov_membership_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(255), index=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Entitlement(Base):
    """A project's right to one dataset: which columns, which rows, and how each column is transformed."""

    __tablename__ = "prov_entitlements"
    __table_args__ = (UniqueConstraint("project_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="RESTRICT"))
    row_filter: Mapped[str | None] = mapped_column(Text, nullable=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    project: Mapped[Project] = relationship(back_populates="entitlements")
    dataset: Mapped[Dataset] = relationship()
    columns: Mapped[list[EntitlementColumn]] = relationship(
        back_populates="entitlement", cascade="all, delete-orphan", order_by="EntitlementColumn.position"
    )


class EntitlementColumn(Base):
    __tablename__ = "prov_entitlement_columns"
    __table_args__ = (UniqueConstraint("entitlement_id", "column_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("prov_entitlements.id", ondelete="CASCADE"))
    column_name: Mapped[str] = mapped_column(String(255))
    # keep | pseudonymise | drop | generalise:age5 | generalise:age10 | generalise:month | generalise:year
    transformation: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)

    entitlement: Mapped[Entitlement] = relationship(back_populates="columns")


class Extract(Base):
    """The last build of one (project, dataset) extract and its risk figures."""

    __tablename__ = "prov_extracts"
    __table_args__ = (UniqueConstraint("project_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="RESTRICT"))
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of file names in the extract dir
    columns: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {name, role, transformation}
    sha256: Mapped[str] = mapped_column(Text, default="{}")  # JSON {file name: digest}
    min_k: Mapped[int | None] = mapped_column(Integer, nullable=True)
    risk_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_report: Mapped[str] = mapped_column(Text, default="{}")  # JSON summary

    project: Mapped[Project] = relationship(back_populates="extracts")
    dataset: Mapped[Dataset] = relationship()


class ProjectKey(Base):
    """The project's pseudonymisation key, wrapped under the master key; ``wrapped`` is wiped on close."""

    __tablename__ = "prov_project_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"), unique=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    project: Mapped[Project] = relationship(back_populates="key")


class RiskOverride(Base):
    """An admin's explicit acceptance of an extract below the policy's minimum k (also an audit event)."""

    __tablename__ = "prov_risk_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="RESTRICT"))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    accepted_k: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Person(Base):
    """Someone who may hold a Keycloak account: researchers, output checkers and admins.

    Keycloak sync creates accounts for enabled people, disables accounts of disabled ones, and gives
    each the realm roles listed here (comma-separated)."""

    __tablename__ = "prov_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    realm_roles: Mapped[str] = mapped_column(String(1000), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.realm_roles.split(",") if r]


class AccountName(Base):
    """The Keycloak account (its ``sub``) a user name belongs to, recorded the first time Sandkasse
    sees the name used: a portal login, or the Keycloak sync making or adopting the account.

    A name stays bound after its account is deleted (a tombstone): with self-registration anyone may
    register a freed name in Keycloak, and the new account would inherit everything Sandkasse keys by
    name (applications, project memberships, audit history). Only the sync, for a registered person
    whose address is verified, or an admin (``person release-name``) moves a name to another account."""

    __tablename__ = "prov_account_names"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255))
    bound_by: Mapped[str] = mapped_column(String(64), default="")
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProvisioningAuditEvent(AuditEventMixin, Base):
    __tablename__ = "prov_audit_events"


class ProvisioningAuditHead(AuditHeadMixin, Base):
    __tablename__ = "prov_audit_head"


class DPBudget(Base):
    """A project's differential-privacy budget on one dataset, in millionths (integers add exactly,
    so ``spent_micro + cost <= total_micro`` is decided without rounding). ``measure`` is ``epsilon``
    (pure DP, basic composition: epsilons add) or ``rho`` (zero-concentrated DP: rhos add)."""

    __tablename__ = "prov_dp_budgets"
    __table_args__ = (UniqueConstraint("project_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("prov_projects.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("prov_datasets.id", ondelete="RESTRICT"))
    measure: Mapped[str] = mapped_column(String(16))
    total_micro: Mapped[int] = mapped_column(BigInteger)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
