"""``sandkasse publication check FILE`` (prints the publishable table and the disclosure report, writes
nothing) and ``sandkasse publication publish FILE`` (the same check inside the register's transaction;
registers the table only if it passes). Exit 0: publishable/published, 1: refused, 2: bad input."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from egress_review import db
from egress_review.audit import Actor, AuditLog, head_key
from egress_review.checks.policy import load_disclosure_policy
from egress_review.checks.publication_policy import PublicationProfile
from egress_review.publication import cell_key_secret
from egress_review.publishing.register import CheckResult, PublicationRefused, evaluate, load_register, publish
from egress_review.publishing.tables import PublicationInputError, published_csv, read_table
from egress_review.settings import EgressSettings
from sandkasse.keys import MasterKeyError, load_master_key
from sandkasse.policy import PolicyError
from sandkasse.usernames import normalise_username

OK, REFUSED, BAD_INPUT = 0, 1, 2


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return BAD_INPUT


def _emit(result: CheckResult, out: str | None) -> None:
    text, sha = published_csv(result.table)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"publishable table written to {out} (sha256 {sha})")
    else:
        print(text, end="")
        print()
    print(result.report())


@contextmanager
def _session(settings: EgressSettings, *, migrate: bool) -> Iterator[tuple[Session, AuditLog | None]]:
    url = settings.effective_database_url
    if migrate:
        db.migrate(url)
    engine = db.make_engine(url, writer=migrate)
    try:
        sessions = db.sessions(engine, writer=migrate)
        audit = None
        if migrate:
            audit = AuditLog(settings.audit_jsonl, head_key(load_master_key(settings)))
            audit.attach(sessions)
        with sessions() as session:
            yield session, audit
    finally:
        engine.dispose()


def _inputs(file: str, count: str, settings: EgressSettings, name: str, population: str):  # noqa: ANN202
    if not population.strip():
        raise PublicationInputError("--population: say which population the counts describe")
    if not name or len(name) > 200:
        raise PublicationInputError("--name: a name of 1 to 200 characters")
    profile: PublicationProfile = load_disclosure_policy().publication
    table = read_table(Path(file), count, profile.max_cells)
    return profile, table, cell_key_secret(load_master_key(settings))


def check_command(file: str, *, name: str | None, population: str, count: str = "count", out: str | None = None,
                  settings: EgressSettings | None = None) -> int:
    settings = settings or EgressSettings()
    name, population = (name or Path(file).stem).strip(), population.strip()
    try:
        profile, table, secret = _inputs(file, count, settings, name, population)
        with _session(settings, migrate=False) as (session, _):
            # before the first publication the register's tables may not exist yet: nothing to compare with
            register = (load_register(session, population)
                        if inspect(session.get_bind()).has_table("egress_publications") else [])
        result = evaluate(table, register, name=name, population=population, profile=profile, secret=secret)
    except (PublicationInputError, MasterKeyError, PolicyError, PublicationRefused) as exc:
        return _error(str(exc))
    _emit(result, out)
    return OK if result.publishable else REFUSED


def publish_command(file: str, *, name: str | None, population: str, by: str, project: str = "",
                    count: str = "count", out: str | None = None, settings: EgressSettings | None = None,
                    new_population: bool = False) -> int:
    settings = settings or EgressSettings()
    name, population = (name or Path(file).stem).strip(), population.strip()
    if not normalise_username(by):
        return _error("--by: say who publishes (your user name); it goes into the audit log")
    actor = Actor(normalise_username(by), "admin", "cli")
    try:
        profile, table, secret = _inputs(file, count, settings, name, population)
        with _session(settings, migrate=True) as (session, audit):
            try:
                result, pub = publish(session, audit, actor, table, name=name, population=population,
                                      project=project, profile=profile, secret=secret, new_population=new_population)
                session.commit()
            except IntegrityError:  # the same name registered by another publication a moment ago
                session.rollback()
                print(f"refused: a table named {name!r} is already published; nothing was registered", file=sys.stderr)
                return REFUSED
            except PublicationRefused as exc:
                session.rollback()
                if exc.result is not None:
                    print(exc.result.report())
                print(f"refused: {exc}; nothing was registered", file=sys.stderr)
                return REFUSED
    except (PublicationInputError, MasterKeyError, PolicyError) as exc:
        return _error(str(exc))
    _emit(result, out)
    print(f"registered {name!r} as publication {pub.id} in the publication register")
    return OK
