"""The publication register's tables (migration ``0005``). True counts are kept beside what was
published because differencing is judged on the people behind the cells, not on the noise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from egress_review.models import Base, UTCDateTime, new_id
from sandkasse.audit import utcnow


class Publication(Base):
    """One table published on the open web, by any project or unit of the organisation."""

    __tablename__ = "egress_publications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The population the counts describe ("Oslo residents 1 January 2026"): only tables of one
    # population can be subtracted from one another.
    population: Mapped[str] = mapped_column(String(200), index=True)
    project: Mapped[str] = mapped_column(String(100), default="")
    published_by: Mapped[str] = mapped_column(String(255))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(20))
    threshold: Mapped[int] = mapped_column(Integer)
    dimensions: Mapped[str] = mapped_column(Text)  # JSON list, in the file's order
    sha256: Mapped[str] = mapped_column(String(64))  # of the published CSV

    cells: Mapped[list[PublishedCellRow]] = relationship(back_populates="publication", cascade="all, delete-orphan")


class PublishedCellRow(Base):
    __tablename__ = "egress_published_cells"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publication_id: Mapped[str] = mapped_column(ForeignKey("egress_publications.id"), index=True)
    coords: Mapped[str] = mapped_column(Text)  # canonical JSON of (dimension, category) pairs, totals dropped
    true_count: Mapped[int] = mapped_column(Integer)
    value: Mapped[int | None] = mapped_column(Integer, nullable=True)  # as published; NULL: suppressed

    publication: Mapped[Publication] = relationship(back_populates="cells")


class PublicationLock(Base):
    """One row per population, updated first by every publication of it: publications of one population
    are checked and registered one after another, so two tables published at the same moment are still
    checked against each other."""

    __tablename__ = "egress_publication_locks"

    population: Mapped[str] = mapped_column(String(200), primary_key=True)
    publications: Mapped[int] = mapped_column(Integer, default=0)
