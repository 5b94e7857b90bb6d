import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from provisioning.db import migrate
from provisioning.models import Base

pytestmark = pytest.mark.integration


def test_migrations_reach_the_models_and_keep_their_own_version_table(database_url):
    engine = create_engine(database_url)
    with engine.begin() as conn:  # another component's table in the same database must survive
        conn.execute(text("CREATE TABLE other_component (id INTEGER PRIMARY KEY)"))
    migrate(database_url)
    migrate(database_url)  # idempotent
    tables = set(inspect(engine).get_table_names())
    assert {"alembic_version_provisioning", "prov_projects", "prov_audit_events", "other_component"} <= tables
    assert "alembic_version" not in tables
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "alembic_version_provisioning",
                                                     "include_object": lambda o, n, t, r, c: t != "table" or n in Base.metadata.tables,
                                                     "compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == [], "models changed without a migration"
    engine.dispose()
