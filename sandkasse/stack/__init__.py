"""The local stack: the real components (Docker engine, base image, Keycloak, PostgreSQL) started on
this machine for the test bed and the demo. Each module starts one component, reuses it when it
already runs, and raises :class:`StackError` with the reason (and its log's tail) when it cannot."""

from sandkasse.stack.process import StackError

__all__ = ["StackError"]
