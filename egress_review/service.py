"""The egress service's parts, built once from settings and shared by the API (and later the web UI):
database sessions, policy, quarantine store, audit log, release signer, token validators, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from egress_review import db
from egress_review.audit import AuditLog, head_key
from egress_review.autocheck import CheckRunner, load_engine_policy
from egress_review.identity.keycloak import KeycloakValidator
from egress_review.metrics import EgressMetrics
from egress_review.policy import EgressPolicy, load_egress_policy
from egress_review.quarantine.store import QuarantineStore
from egress_review.release.signing import ReleaseSigner, UnavailableSigner
from egress_review.settings import EgressSettings
from sandkasse.keys import load_master_key


@dataclass
class EgressService:
    settings: EgressSettings
    policy: EgressPolicy
    engine: Engine
    sessions: sessionmaker[Session]
    # Read-only work (listings, pages, auth re-checks) runs on these: on SQLite they do not take the
    # write lock, so readers never queue behind writers.
    read_engine: Engine
    read_sessions: sessionmaker[Session]
    store: QuarantineStore
    audit: AuditLog
    signer: ReleaseSigner | UnavailableSigner
    keycloak: KeycloakValidator
    project_token_key: bytes | None
    metrics: EgressMetrics
    disclosure_policy: Any = None
    checker: CheckRunner | None = None
    # egress_review.checking.CheckQueue while the app runs (None: pending checks wait for the sweep)
    checks: Any = None

    @property
    def release_dir(self) -> Path:
        return self.settings.release_dir

    def close(self) -> None:
        if self.checker is not None:
            self.checker.close()
        self.engine.dispose()
        self.read_engine.dispose()


def build_service(settings: EgressSettings, *, migrate: bool = True) -> EgressService:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if migrate:
        db.migrate(url)
    engine = db.make_engine(url)
    key = load_master_key(settings)
    store = QuarantineStore(settings.quarantine_dir, settings.scratch_dir, key)
    sessions = db.sessions(engine, store)
    read_engine = db.make_engine(url, writer=False)
    read_sessions = db.sessions(read_engine, store, writer=False)
    audit = AuditLog(settings.audit_jsonl, head_key(key))
    audit.attach(sessions)
    token_key = None
    if settings.project_token_key:
        from egress_review.identity.project_token import load_project_token_key

        token_key = load_project_token_key(settings.project_token_key)
    policy = load_egress_policy(settings.policy_file)
    # the notification hooks write outbox rows inside the state change's own transaction
    sessions.configure(info={**sessions.kw["info"], "egress_notify": policy.notifications})
    return EgressService(
        settings=settings,
        policy=policy,
        engine=engine,
        sessions=sessions,
        read_engine=read_engine,
        read_sessions=read_sessions,
        store=store,
        audit=audit,
        signer=ReleaseSigner.for_service(settings.signing_key_path, settings.public_key_path, settings.release_dir),
        keycloak=KeycloakValidator(
            settings.keycloak_url, settings.keycloak_realm, settings.keycloak_audience, settings.issuer
        ),
        project_token_key=token_key,
        metrics=EgressMetrics(read_sessions),
        disclosure_policy=load_engine_policy(),
        checker=CheckRunner(policy.uploads.check_workers, policy.uploads.check_in_process_max_bytes),
    )
