"""Two tables published at the same moment whose difference isolates a small group: the register must
check each against the other, so exactly one is registered, on SQLite and on PostgreSQL (the
population's lock row, egress_review/publishing/register.py::_lock_population)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from egress_review.audit import Actor
from egress_review.checks.publication_policy import PublicationProfile
from egress_review.publishing.models import Publication
from egress_review.publishing.register import PublicationRefused, publish
from egress_review.publishing.tables import read_table
from provisioning.synth.bydelsfakta import build_tables
from provisioning.synth.population import generate_population
from tests.unit.egress.egress_factories import make_env

pytestmark = pytest.mark.integration

ROUNDS = 6
PAIR = ("aged-90-plus-by-sub-district", "aged-90-99-by-sub-district")


def test_simultaneous_differencing_pair_registers_only_one(database_url, tmp_path):
    tables = build_tables(generate_population())
    files = {}
    for name in PAIR:
        files[name] = tmp_path / f"{name}.csv"
        tables[name].to_csv(files[name], index=False)
    inputs = {name: read_table(path) for name, path in files.items()}
    env = make_env(tmp_path / "svc", database_url)
    try:
        for round_ in range(ROUNDS):
            population = f"Oslo residents, round {round_}"  # a fresh population: an empty register each round
            barrier = threading.Barrier(2)

            def one(name: str) -> str:
                with env.svc.sessions() as s:
                    barrier.wait(timeout=30)
                    try:
                        publish(s, env.svc.audit, Actor("anne", "admin", "cli"), inputs[name], name=f"{name} {round_}",
                                population=population, project="", profile=PublicationProfile(), secret=b"k",
                                new_population=True)
                        s.commit()
                        return "published"
                    except PublicationRefused:
                        s.rollback()
                        return "refused"

            with ThreadPoolExecutor(max_workers=2) as pool:
                outcomes = sorted(pool.map(one, PAIR))
            assert outcomes == ["published", "refused"], f"round {round_}: {outcomes}"
            with env.svc.read_sessions() as s:
                assert s.scalar(select(func.count()).select_from(Publication)
                                .where(Publication.population == population)) == 1
    finally:
        env.svc.close()
