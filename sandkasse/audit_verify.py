"""``sandkasse audit verify``: check every component's audit chain (links, content hashes, sealed head,
shipped JSON lines and the last sealed head shipped) in the configured database, and the hub's sealed
stream, and print where each one breaks."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from sandkasse.audit import AuditReport
from sandkasse.db import make_engine, make_sessionmaker
from sandkasse.keys import MasterKeyError
from sandkasse.settings import Settings, get_settings


def _egress(session: Session, settings: Settings) -> AuditReport:
    from egress_review.audit import verify_configured

    return verify_configured(session, settings)


def _provisioning(session: Session, settings: Settings) -> AuditReport:
    from provisioning.audit import verify

    return verify(session, settings)


# (component, its audit table, its check); imports are lazy so one broken component does not hide the other.
CHAINS: tuple[tuple[str, str, Callable[[Session, Settings], AuditReport]], ...] = (
    ("egress", "egress_audit_events", _egress),
    ("provisioning", "prov_audit_events", _provisioning),
)


def verify_hub_stream() -> bool:
    """The hub's sealed JSON-lines stream (no database table): print its verdict; False if broken."""
    from hub.audit import KEY_ENV, configured_key, verify_file
    from hub.settings import HubSettings

    path = HubSettings().state_dir / "audit" / "hub.jsonl"
    if not path.exists():
        print(f"hub: no audit stream at {path} (no notebook session has ended here)")
        return True
    try:
        key = configured_key()
    except MasterKeyError as exc:
        print(f"hub: cannot check the stream's seals: {exc}", file=sys.stderr)
        return False
    if key is None:
        print(f"hub: cannot check the stream's seals: {KEY_ENV} is not set", file=sys.stderr)
        return False
    ok, count, problem = verify_file(path, key)
    print(f"hub: audit stream OK: {count} records" if ok else f"hub: audit stream BROKEN: {problem} ({path})")
    return ok


def verify_all(settings: Settings | None = None) -> int:
    """Print each chain's report; 1 when any chain is broken or cannot be checked, else 0."""
    settings = settings or get_settings()
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    failed = False
    try:
        tables = set(inspect(engine).get_table_names())
        for component, table, check in CHAINS:
            if table not in tables:
                print(f"{component}: no audit table (database not migrated)")
                continue
            try:
                with sessions() as session:
                    report = check(session, settings)
            except MasterKeyError as exc:
                print(f"{component}: cannot check the sealed chain head: {exc}", file=sys.stderr)
                failed = True
                continue
            print(report)
            failed |= not report.ok
    finally:
        engine.dispose()
    failed |= not verify_hub_stream()
    return 1 if failed else 0
