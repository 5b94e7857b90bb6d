"""The publication register: check a table against everything already published for its population,
and register it only when it passes, in one transaction that holds the population's lock row (so two
tables published at the same moment are checked against each other, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from egress_review.audit import Actor, AuditLog
from egress_review.checks.open_data import (
    DifferencingReport,
    PublishedCell,
    PublishedTable,
    coords_from_key,
    coords_key,
    describe,
    find_isolations,
    population_key,
    protect,
)
from egress_review.checks.publication_policy import PublicationProfile
from egress_review.publishing.models import Publication, PublicationLock, PublishedCellRow
from egress_review.publishing.tables import InputTable, published_csv, published_frame


class PublicationRefused(RuntimeError):
    def __init__(self, message: str, result: CheckResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class CheckResult:
    name: str
    population: str
    profile: PublicationProfile
    table: pd.DataFrame  # what would be published
    cells: list[PublishedCell]
    differencing: DifferencingReport

    @property
    def publishable(self) -> bool:
        return not self.differencing.isolations

    @property
    def suppressed(self) -> list[PublishedCell]:
        return [c for c in self.cells if c.value is None]

    def report(self) -> str:
        p = self.profile
        how = (f"cell-key perturbation (noise -{p.cell_key.max_noise}..+{p.cell_key.max_noise}, the same for a cell "
               "every time it is published)" if p.method == "cell_key" else f"rounding to base {p.rounding.base}")
        lines = [
            f"Disclosure report for {self.name!r} (population: {self.population})",
            f"  profile: publication; threshold {p.threshold}; {how}",
            f"  cells: {len(self.cells)}; suppressed (1..{p.threshold - 1}): {len(self.suppressed)}",
        ]
        lines += [f"    suppressed: {describe(c.coords)}" for c in self.suppressed[:50]]
        if len(self.suppressed) > 50:
            lines.append(f"    ... and {len(self.suppressed) - 50} more")
        if not p.differencing:
            lines.append("  differencing: OFF in policies/disclosure.yaml")
        else:
            lines.append(f"  differencing against the register: {self.differencing.compared_tables} published "
                         f"table(s) of this population, and the table's own margins")
            for iso in self.differencing.isolations:
                lines.append(f"    FAIL {iso.explain()} (threshold {p.threshold})")
        lines.append("  verdict: " + ("publishable" if self.publishable else
                                      "NOT publishable: suppress or merge the cells named above, then check again"))
        return "\n".join(lines)


def load_register(session: Session, population: str) -> list[PublishedTable]:
    # matched on the label's identity in Python (SQLite's lower() folds ASCII only): "Oslo residents
    # 2026" and "oslo  residents 2026" are one population, whose tables can be subtracted
    key = population_key(population)
    ids = [i for i, p in session.execute(select(Publication.id, Publication.population)) if population_key(p) == key]
    pubs = session.execute(
        select(Publication).where(Publication.id.in_(ids))
        .options(selectinload(Publication.cells)).order_by(Publication.published_at)
    ).scalars() if ids else []
    return [PublishedTable(p.name, tuple(PublishedCell(coords_from_key(c.coords), c.true_count, c.value)
                                         for c in p.cells)) for p in pubs]


def evaluate(table: InputTable, register: list[PublishedTable], *, name: str, population: str,
             profile: PublicationProfile, secret: bytes) -> CheckResult:
    """Protect ``table`` and look for differencing against ``register`` (the published tables of its population)."""
    if not name.strip() or not population.strip():
        raise PublicationRefused("a publication needs a name and the population its counts describe (--population)")
    cells = protect(table.cells, population=population, threshold=profile.threshold, method=profile.method,
                    secret=secret, max_noise=profile.cell_key.max_noise, base=profile.rounding.base)
    diff = DifferencingReport()
    if profile.differencing:
        diff = find_isolations(PublishedTable(name, tuple(cells)), register, profile.threshold)
    return CheckResult(name, population, profile, published_frame(table, cells), cells, diff)


def check_table(session: Session, table: InputTable, *, name: str, population: str, profile: PublicationProfile,
                secret: bytes) -> CheckResult:
    """Protect ``table`` and look for differencing against the register; writes nothing."""
    return evaluate(table, load_register(session, population), name=name, population=population, profile=profile,
                    secret=secret)


def _lock_population(session: Session, population: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    session.execute(insert(PublicationLock).values(population=population, publications=0)
                    .on_conflict_do_nothing(index_elements=["population"]))
    # The row lock is held to the end of the transaction: the next publication of this population reads
    # the register only after this one is committed or rolled back.
    session.execute(update(PublicationLock).where(PublicationLock.population == population)
                    .values(publications=PublicationLock.publications + 1))


def _check_population(session: Session, population: str, new_population: bool) -> None:
    """A population label the register has never seen compares the table with nothing and gives its cells
    fresh noise: "Oslo residents 2026" against "Oslo residents, 1 January 2026" must be a decision, not a typo."""
    known = {population_key(p): p for p in session.execute(select(Publication.population).distinct()).scalars()}
    if known and population_key(population) not in known and not new_population:
        listed = "; ".join(sorted(known.values())[:20])
        raise PublicationRefused(
            f"no table of population {population!r} is in the register, which holds: {listed}. Publish under one "
            "of those, or say --new-population if this table truly counts another population (it is then compared "
            "with none of theirs)")


def publish(session: Session, audit: AuditLog, actor: Actor, table: InputTable, *, name: str, population: str,
            project: str, profile: PublicationProfile, secret: bytes,
            new_population: bool = False) -> tuple[CheckResult, Publication]:
    """Check and register in the caller's transaction (the caller commits); refused (nothing written)
    when the name is taken, the population is new to the register and not said to be, or the check fails."""
    _lock_population(session, population_key(population))
    _check_population(session, population, new_population)
    if session.execute(select(Publication.id).where(Publication.name == name)).first() is not None:
        raise PublicationRefused(f"a table named {name!r} is already published; publish under a new name")
    result = check_table(session, table, name=name, population=population, profile=profile, secret=secret)
    if not result.publishable:
        raise PublicationRefused(f"{name!r} is not publishable: {len(result.differencing.isolations)} "
                                 "differencing finding(s)", result)
    _, sha = published_csv(result.table)
    pub = Publication(name=name, population=population, project=project, published_by=actor.username,
                      method=profile.method, threshold=profile.threshold, dimensions=json.dumps(table.dimensions),
                      sha256=sha)
    pub.cells = [PublishedCellRow(coords=coords_key(c.coords), true_count=c.count, value=c.value)
                 for c in result.cells]
    session.add(pub)
    session.flush()
    audit.record(session, actor, "publication.publish", "publication", pub.id,
                 {"name": name, "population": population, "new_population": new_population, "project": project,
                  "cells": len(result.cells),
                  "suppressed": len(result.suppressed), "method": profile.method, "threshold": profile.threshold,
                  "sha256": sha})
    return result, pub
