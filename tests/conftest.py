"""Root conftest: the real test bed (Docker engine, base image, Keycloak, PostgreSQL) comes from
``tests/testbed``; its fixtures are session-scoped, started once per run and torn down after.
A fixture whose component fails to start raises with the reason: nothing is silently skipped."""

pytest_plugins = ["tests.testbed.fixtures"]
