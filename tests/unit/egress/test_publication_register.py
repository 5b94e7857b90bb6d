"""The open-data publication profile and the organisation's publication register (issue 18.4), on the
synthetic Oslo population register: the "aged 100+ by sub-district" table comes out protected, and a
table whose difference with an already published one isolates Grefsen's centenarians is refused."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from egress_review.audit import Actor
from egress_review.checks.open_data import Cell, PublishedTable, canonical, find_isolations, identity, protect
from egress_review.checks.publication_policy import PublicationProfile
from egress_review.models import EgressAuditEvent
from egress_review.publishing.models import Publication, PublishedCellRow
from egress_review.publishing.register import PublicationRefused, check_table, evaluate, publish
from egress_review.publishing.tables import read_table
from provisioning.synth.bydelsfakta import build_tables
from provisioning.synth.population import CENTENARIANS, DISTRICTS, POPULATION, generate_population
from tests.unit.egress.egress_factories import make_env

SECRET = b"test-cell-key-secret"
PROFILE = PublicationProfile()  # the defaults are the ones policies/disclosure.yaml sets
ADMIN = Actor("anne", "admin", "cli")
GREFSEN_90 = canonical({"district": "Nordre Aker", "sub_district": "Grefsen", "age": "90+"})


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, pd.DataFrame]:
    return build_tables(generate_population())


def _csv(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.csv"
    _tables()[name].to_csv(path, index=False)
    return path


@pytest.fixture
def env(tmp_path):
    e = make_env(tmp_path / "svc")
    yield e
    e.svc.close()


def _publish(env, tmp_path, name: str, profile: PublicationProfile = PROFILE):
    with env.svc.sessions() as s:
        try:
            out = publish(s, env.svc.audit, ADMIN, read_table(_csv(tmp_path, name)), name=name, population=POPULATION,
                          project="", profile=profile, secret=SECRET)
            s.commit()
            return out
        except Exception:
            s.rollback()
            raise


def _counts(env) -> tuple[int, int, int]:
    with env.svc.read_sessions() as s:
        return (s.scalar(select(func.count()).select_from(Publication)),
                s.scalar(select(func.count()).select_from(PublishedCellRow)),
                s.scalar(select(func.count()).select_from(EgressAuditEvent)
                         .where(EgressAuditEvent.action == "publication.publish")))


def test_synthetic_population_register_has_oslo_and_grefsen_centenarians():
    pop = generate_population()
    assert set(pop.district.unique()) == set(DISTRICTS) and len(DISTRICTS) == 15
    grefsen = pop[pop.sub_district == "Grefsen"]
    assert set(grefsen.district) == {"Nordre Aker"}
    assert (grefsen.age >= 100).sum() == CENTENARIANS["Grefsen"] == 8
    assert pop.equals(generate_population())  # same seed, same register
    assert set(pop.columns) == {"person_id", "district", "sub_district", "age", "gender"}


def test_grefsen_aged_100_table_comes_out_protected(env, tmp_path):
    result, _ = _publish(env, tmp_path, "aged-100-by-sub-district")
    row = result.table[(result.table.sub_district == "Grefsen")].iloc[0]
    assert row["age"] == "100+" and row["count"] == ""  # 8 true people: suppressed, not published
    assert "sub_district=Grefsen" in result.report()
    published = result.table["count"]
    assert set(published[published != ""]) == {0}  # nowhere else in Oslo are there 20 centenarians
    with env.svc.read_sessions() as s:  # the register keeps the true count for later differencing checks
        cell = s.execute(select(PublishedCellRow).where(PublishedCellRow.coords.contains("Grefsen"))).scalar_one()
    assert (cell.true_count, cell.value) == (8, None)


def test_differencing_pair_is_caught_through_the_register(env, tmp_path):
    _publish(env, tmp_path, "aged-90-plus-by-sub-district")
    assert _counts(env)[0] == 1
    with pytest.raises(PublicationRefused) as refused:
        _publish(env, tmp_path, "aged-90-99-by-sub-district")
    grefsen = [i for i in refused.value.result.differencing.isolations if i.outer == GREFSEN_90]
    assert len(grefsen) == 1 and grefsen[0].residual == 8  # 90+ minus 90-99 = Grefsen's centenarians
    assert grefsen[0].outer_table == "aged-90-plus-by-sub-district"
    assert "isolates 8 people" in refused.value.result.report()
    assert _counts(env) == (1, 62, 1)  # the refused table changed nothing
    # the catch comes from the register: on its own the same table is publishable
    fresh = make_env(tmp_path / "fresh")
    try:
        with fresh.svc.sessions() as s:
            alone = check_table(s, read_table(_csv(tmp_path, "aged-90-99-by-sub-district")),
                                name="aged-90-99-by-sub-district", population=POPULATION, profile=PROFILE,
                                secret=SECRET)
        assert alone.publishable
    finally:
        fresh.svc.close()


def test_register_spans_projects_and_only_one_population(env, tmp_path):
    with env.svc.sessions() as s:
        publish(s, env.svc.audit, ADMIN, read_table(_csv(tmp_path, "aged-90-plus-by-sub-district")),
                name="from another project", population=POPULATION, project="health-unit", profile=PROFILE,
                secret=SECRET)
        s.commit()
    with env.svc.read_sessions() as s:
        table = read_table(_csv(tmp_path, "aged-90-99-by-sub-district"))
        same = check_table(s, table, name="n", population=POPULATION, profile=PROFILE, secret=SECRET)
        other = check_table(s, table, name="n", population="Bergen residents 2026", profile=PROFILE, secret=SECRET)
    assert not same.publishable  # another project's table counts
    assert other.publishable  # another population's counts cannot be subtracted


def test_margin_minus_published_cells_is_caught():
    """A district total minus its published sub-district cells gives the suppressed ones."""
    subs = [("Grefsen", 31), ("Kjelsås", 40), ("Tåsen", 7)]
    cells = protect([Cell(canonical({"district": "Nordre Aker", "sub_district": s}), n) for s, n in subs],
                    population="p", threshold=20, method="cell_key", secret=SECRET)
    district = protect([Cell(canonical({"district": "Nordre Aker", "sub_district": "Total"}), 78)],
                       population="p", threshold=20, method="cell_key", secret=SECRET)
    found = find_isolations(PublishedTable("district", tuple(district)), [PublishedTable("subs", tuple(cells))], 20)
    assert [i.residual for i in found.isolations] == [7]
    # within one table: a total row beside its cells is caught the same way
    own = find_isolations(PublishedTable("both", tuple(cells + district)), [], 20)
    assert [i.residual for i in own.isolations] == [7]


def test_same_cell_same_noise_in_every_table_and_republication(tmp_path):
    pop_90 = _tables()["aged-90-plus-by-sub-district"]
    cells = [Cell(canonical({"district": r.district, "sub_district": r.sub_district, "age": r.age}), 100 + i)
             for i, r in enumerate(pop_90.itertuples())]
    runs = [protect(cells, population=POPULATION, threshold=20, method="cell_key", secret=SECRET) for _ in range(20)]
    assert all(r == runs[0] for r in runs)  # averaging 20 republications gives back the same noisy values
    noise = [c.value - c.count for c in runs[0]]
    assert set(noise) <= set(range(-2, 3)) and len(set(noise)) >= 4  # perturbed, within max_noise
    other_key = protect(cells, population=POPULATION, threshold=20, method="cell_key", secret=b"another TRE")
    assert [c.value for c in other_key] != [c.value for c in runs[0]]  # the noise is the TRE's secret
    # The Grefsen 90+ cell in two tables of other names, other neighbours, "Total" for a summed dimension:
    # published with the same noise, so no pair of publications can be averaged either.
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("district,sub_district,age,count\nNordre Aker,Grefsen,90+,131\n")
    wide = tmp_path / "wide.csv"
    wide.write_text("sub_district,district,age,gender,count\nGrefsen,Nordre Aker,90+,Total,131\n"
                    "Kjelsås,Nordre Aker,90+,Total,90\nGrefsen,Nordre Aker,80-89,Total,300\n")
    values = [evaluate(read_table(path), [], name=name, population=POPULATION, profile=PROFILE, secret=SECRET)
              .cells[0].value for path, name in ((narrow, "elderly 2026"), (wide, "Bydelsfakta: alder"))]
    assert values[0] == values[1]


def test_cell_key_secret_is_stable_and_bound_to_the_master_key():
    from egress_review.publication import cell_key_secret

    assert cell_key_secret(b"m" * 32) == cell_key_secret(b"m" * 32)
    assert cell_key_secret(b"m" * 32) != cell_key_secret(b"n" * 32)
    assert cell_key_secret(b"m" * 32) != b"m" * 32


def test_rounding_method_rounds_and_still_suppresses():
    cells = [Cell(canonical({"d": str(i)}), n) for i, n in enumerate([0, 3, 21, 23, 48])]
    out = protect(cells, population="p", threshold=20, method="rounding", secret=SECRET, base=5)
    assert [c.value for c in out] == [0, None, 20, 25, 50]


def test_policy_file_has_the_publication_profile():
    from egress_review.checks.policy import load_disclosure_policy

    policy = load_disclosure_policy()
    assert policy.publication.threshold > policy.threshold.min_count
    assert policy.publication.method == "cell_key" and policy.publication.differencing


def test_publication_tables_match_the_migration(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from egress_review import db
    from egress_review.models import Base

    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.migrate(url)
    engine = create_engine(url)
    mine = {"egress_publications", "egress_published_cells", "egress_publication_locks"}
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_object": lambda o, n, t, r, c: (o.table.name if t in ("column", "index", "unique_constraint",
                                                                         "foreign_key_constraint") else n) in mine,
            "compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


# --- the command line ---------------------------------------------------------------------------------

@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    env = make_env(tmp_path / "svc")
    monkeypatch.setenv("SANDKASSE_DATABASE_URL", env.settings.effective_database_url)
    monkeypatch.setenv("SANDKASSE_MASTER_KEY", env.settings.master_key)
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(env.settings.var_dir))
    from sandkasse.settings import get_settings

    get_settings.cache_clear()
    yield env
    env.svc.close()


def _run(*args: str):
    from sandkasse.cli import app

    return CliRunner().invoke(app, ["publication", *args])


def test_cli_check_prints_table_and_report_and_changes_nothing(cli_env, tmp_path):
    before = _counts(cli_env)
    r = _run("check", str(_csv(tmp_path, "aged-100-by-sub-district")), "--population", POPULATION)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("district,sub_district,age,count\n")
    assert "Nordre Aker,Grefsen,100+,\n" in r.output  # suppressed
    assert "sub_district=Grefsen" in r.output and "verdict: publishable" in r.output
    assert _counts(cli_env) == before


def test_cli_publish_registers_then_refuses_the_differencing_table(cli_env, tmp_path):
    first = _run("publish", str(_csv(tmp_path, "aged-90-plus-by-sub-district")), "--population", POPULATION,
                 "--by", "Anne", "--out", str(tmp_path / "published.csv"))
    assert first.exit_code == 0, first.output
    assert "registered 'aged-90-plus-by-sub-district'" in first.output
    published = pd.read_csv(tmp_path / "published.csv", keep_default_na=False)
    assert list(published.columns) == ["district", "sub_district", "age", "count"]
    second_file = str(_csv(tmp_path, "aged-90-99-by-sub-district"))
    check = _run("check", second_file, "--population", POPULATION)
    assert check.exit_code == 1 and "isolates 8 people" in check.output and "NOT publishable" in check.output
    second = _run("publish", second_file, "--population", POPULATION, "--by", "anne")
    assert second.exit_code == 1 and "nothing was registered" in second.output
    again = _run("publish", str(_csv(tmp_path, "aged-90-plus-by-sub-district")), "--population", POPULATION,
                 "--by", "anne")
    assert again.exit_code == 1 and "already published" in again.output
    assert _counts(cli_env) == (1, 62, 1)
    with cli_env.svc.read_sessions() as s:
        event = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "publication.publish")).scalar_one()
    assert event.actor == "anne"


@pytest.mark.parametrize("content, args, message", [
    (None, [], "no such file"),
    ("district,n\nA,3\n", [], "no count column 'count'"),
    ("district,count\nA,three\n", [], "not a whole number"),
    ("district,count\nA,-3\n", [], "not a whole number"),
    ("district,count\nA,3.5\n", [], "not a whole number"),
    ("district,count\nA,99999999999\n", [], "not a whole number"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", [], "not a readable CSV"),
    ("district,count\nA,3\nA,4\n", [], "the same cell as line 2"),
    ("district,count\n,3\n", [], "an empty category"),
    ("count\n3\n", [], "no dimension columns"),
    ("district,count\n", [], "no rows"),
    ("district,count\nA,3\n", ["--population", " "], "population"),
])
def test_cli_bad_input_is_refused_with_a_clear_message(cli_env, tmp_path, content, args, message):
    path = tmp_path / "t.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    for command in (["check"], ["publish", "--by", "anne"]):
        r = _run(*command, str(path), *(args or ["--population", POPULATION]))
        assert r.exit_code == 2, r.output
        assert message in r.output and "Traceback" not in r.output
    assert _counts(cli_env) == (0, 0, 0)


def test_cli_needs_population_and_publisher(cli_env, tmp_path):
    path = _csv(tmp_path, "aged-100-by-sub-district")
    assert _run("check", str(path)).exit_code == 2  # --population is required
    r = _run("publish", str(path), "--population", POPULATION, "--by", "  ")
    assert r.exit_code == 2 and "--by" in r.output
    assert _counts(cli_env) == (0, 0, 0)
    assert os.environ["SANDKASSE_MASTER_KEY"]


def test_demo_seeds_the_population_register_and_its_bydelsfakta_tables(cli_env, tmp_path):
    """The demo writes the register beside the sick-leave data, catalogues it, and the tables it leaves in
    ``bydelsfakta/`` go through the commands as the operator would use them."""
    from provisioning import catalogue
    from provisioning.demo import seed_demo
    from sandkasse.db import make_engine, make_sessionmaker

    url = cli_env.settings.effective_database_url
    info = seed_demo(url, tmp_path / "demo", employees=1500)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        assert catalogue.get_dataset(s, "population").columns
    engine.dispose()
    folder = info.population_dir / "bydelsfakta"
    assert pd.read_parquet(info.population_dir / "population.parquet").equals(generate_population())
    r = _run("check", str(folder / "aged-100-by-sub-district.csv"), "--population", POPULATION)
    assert r.exit_code == 0 and "Nordre Aker,Grefsen,100+,\n" in r.output
    assert _run("publish", str(folder / "aged-90-plus-by-sub-district.csv"), "--population", POPULATION,
                "--by", "anne").exit_code == 0
    r = _run("publish", str(folder / "aged-90-99-by-sub-district.csv"), "--population", POPULATION, "--by", "anne")
    assert r.exit_code == 1 and "sub_district=Grefsen] isolates 8 people" in r.output


def test_cli_follows_the_publication_profile_of_the_policy_file(cli_env, tmp_path, monkeypatch):
    import shutil

    from sandkasse.settings import get_settings

    policies = tmp_path / "policies"
    shutil.copytree(Path(__file__).resolve().parents[3] / "policies", policies)
    text = (policies / "disclosure.yaml").read_text()
    (policies / "disclosure.yaml").write_text(text.replace("  threshold: 20 ", "  threshold: 5 ").replace(
        "  method: cell_key ", "  method: rounding "))
    monkeypatch.setenv("SANDKASSE_POLICIES_DIR", str(policies))
    get_settings.cache_clear()
    r = _run("check", str(_csv(tmp_path, "aged-100-by-sub-district")), "--population", POPULATION)
    assert r.exit_code == 0 and "Nordre Aker,Grefsen,100+,10\n" in r.output  # 8 is no longer below 5: rounded
    (policies / "disclosure.yaml").write_text(text.replace("  threshold: 20 ", "  threshold: many "))
    r = _run("check", str(_csv(tmp_path, "aged-100-by-sub-district")), "--population", POPULATION)
    assert r.exit_code == 2 and "disclosure.yaml is invalid" in r.output


def test_another_spelling_of_the_population_or_the_labels_is_still_checked_against_the_register(env, tmp_path):
    """Attack (careless or curious publisher): the same 90-99 table, under the population written in capitals
    with extra blanks and with the labels in capitals, must not pass as a table of a new population or of
    new cells: the difference with the published 90+ table still isolates Grefsen's 8 centenarians, and a
    republished cell keeps its noise (fresh noise would let republications be averaged)."""
    _publish(env, tmp_path, "aged-90-plus-by-sub-district")
    respelt = _tables()["aged-90-99-by-sub-district"].copy()
    for column in ("district", "sub_district"):
        respelt[column] = respelt[column].str.upper()
    respelt.columns = [c.upper() if c != "count" else c for c in respelt.columns]
    path = tmp_path / "respelt.csv"
    respelt.to_csv(path, index=False)
    with env.svc.read_sessions() as s:
        result = check_table(s, read_table(path), name="new name", population="  " + POPULATION.upper() + " ",
                             profile=PROFILE, secret=SECRET)
    assert not result.publishable
    assert any(i.residual == 8 and i.outer_table == "aged-90-plus-by-sub-district"
               for i in result.differencing.isolations)
    # the same cell, spelt otherwise, of the same population spelt otherwise: the same noise
    one = tmp_path / "one.csv"
    one.write_text("district,sub_district,age,count\nNordre Aker,Grefsen,90+,131\n")
    other = tmp_path / "other.csv"
    other.write_text("DISTRICT,SUB_DISTRICT,AGE,count\nNORDRE AKER,grefsen,90+,131\n")
    assert identity(canonical({"sub_district": "Kjelsa\u030as"})) == identity(canonical({"SUB_DISTRICT": "KJELSÅS"}))
    values = {evaluate(read_table(path), [], name="n", population=pop, profile=PROFILE, secret=SECRET).cells[0].value
              for path, pop in ((one, POPULATION), (other, POPULATION.lower()))}
    assert len(values) == 1


def test_a_population_new_to_the_register_must_be_said_to_be(env, tmp_path):
    """Attack (careless or curious publisher): the 90-99 table under "Oslo residents, 1 January 2026" instead
    of the registered label was compared with nothing and published. A label the register has never seen is
    refused unless the publisher says the population is new (audited); the known labels are listed."""
    _publish(env, tmp_path, "aged-90-plus-by-sub-district")  # the first population of an empty register
    table = read_table(_csv(tmp_path, "aged-90-99-by-sub-district"))
    with env.svc.sessions() as s:
        with pytest.raises(PublicationRefused, match="--new-population") as refused:
            publish(s, env.svc.audit, ADMIN, table, name="respelt", population="Oslo residents, 1 January 2026",
                    project="", profile=PROFILE, secret=SECRET)
        s.rollback()
    assert POPULATION in str(refused.value)
    assert _counts(env) == (1, 62, 1)
    with env.svc.sessions() as s:  # said to be new: registered, and the audit says so
        _, pub = publish(s, env.svc.audit, ADMIN, table, name="bergen", population="Bergen residents 2026",
                         project="", profile=PROFILE, secret=SECRET, new_population=True)
        s.commit()
    with env.svc.read_sessions() as s:
        event = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.object_id == pub.id)).scalar_one()
    assert '"new_population": true' in event.detail


def test_cli_publish_needs_new_population_for_a_label_the_register_has_not_seen(cli_env, tmp_path):
    assert _run("publish", str(_csv(tmp_path, "aged-90-plus-by-sub-district")), "--population", POPULATION,
                "--by", "anne").exit_code == 0
    second = str(_csv(tmp_path, "aged-100-by-sub-district"))
    r = _run("publish", second, "--population", "Oslo residents 1 Jan 2026", "--by", "anne")
    assert r.exit_code == 1 and "--new-population" in r.output and "nothing was registered" in r.output
    r = _run("publish", second, "--population", "Oslo residents 1 Jan 2026", "--by", "anne", "--new-population")
    assert r.exit_code == 0, r.output


def test_three_tables_together_isolate_what_no_pair_of_them_does():
    """Attack (public reader): "90-94" and "95-99" published in two tables, then "90+" in a third: no pair
    isolates anyone, but 90+ minus both leaves Grefsen's 8 centenarians. The register's cells are
    subtracted together, whichever of the three comes last; combinations of old tables alone stay quiet."""
    def table(name: str, rows: list[tuple[str, str, int]]) -> PublishedTable:
        cells = [Cell(canonical({"sub_district": s, "age": a}), n) for s, a, n in rows]
        return PublishedTable(name, tuple(protect(cells, population="p", threshold=20, method="cell_key", secret=SECRET)))

    young = table("90-94", [("Grefsen", "90-94", 40), ("Kjelsås", "90-94", 50)])
    old = table("95-99", [("Grefsen", "95-99", 25), ("Kjelsås", "95-99", 30)])
    all_90 = table("90+", [("Grefsen", "90+", 73), ("Kjelsås", "90+", 100)])
    assert not find_isolations(old, [young], 20).isolations and not find_isolations(all_90, [young], 20).isolations
    for new, register in ((all_90, [young, old]), (old, [young, all_90]), (young, [all_90, old])):
        found = find_isolations(new, register, 20).isolations
        assert [(i.residual, dict(i.outer)["sub_district"]) for i in found] == [(8, "Grefsen")], new.name
    unrelated = table("other", [("Tåsen", "90+", 50)])
    assert not find_isolations(unrelated, [young, old, all_90], 20).isolations  # the old trio is not the new table's
