"""``sandkasse audit verify``: check the egress audit chain (links, content hashes, sealed head,
shipped JSON lines) and provisioning's chain; print where the first break is."""

from __future__ import annotations

import sys

from sqlalchemy import inspect

from egress_review.audit import head_key, verify
from egress_review.db import make_engine
from sandkasse.keys import load_master_key
from egress_review.settings import EgressSettings
from sandkasse.db import make_sessionmaker

PROVISIONING_AUDIT = "prov_audit_events"


def verify_all(settings: EgressSettings | None = None) -> int:
    settings = settings or EgressSettings()
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    tables = set(inspect(engine).get_table_names())
    failed = False
    try:
        if "egress_audit_events" in tables:
            try:
                key = load_master_key(settings)
            except Exception as exc:
                print(f"egress: cannot check the sealed chain head: {exc}", file=sys.stderr)
                return 1
            with sessions() as session:
                report = verify(session, head_key(key), settings.audit_jsonl)
            print(report)
            failed |= not report.ok
        else:
            print("egress: no audit table (database not migrated)")
        if PROVISIONING_AUDIT in tables:
            try:
                from provisioning.audit import verify as verify_provisioning
            except ImportError:
                verify_provisioning = None
            if verify_provisioning is not None:
                with sessions() as session:
                    prov = verify_provisioning(session)
                print(f"provisioning: {prov}")
                failed |= not prov.ok
    finally:
        engine.dispose()
    return 1 if failed else 0
