"""FastAPI dependencies: the service, a database session, and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from egress_review import projects
from egress_review.errors import Forbidden, NotAuthenticated
from egress_review.identity.principal import Principal, Role, Via
from egress_review.identity.project_token import looks_like_project_token, peer_in_network, verify_project_token
from egress_review.peer import direct_peer, relayed
from egress_review.service import EgressService


def get_service(request: Request) -> EgressService:
    return request.app.state.egress


def get_session(svc: Annotated[EgressService, Depends(get_service)]) -> Iterator[Session]:
    """A session per request; handlers commit explicitly, anything uncommitted is rolled back."""
    session = svc.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_read_session(svc: Annotated[EgressService, Depends(get_service)]) -> Iterator[Session]:
    """A session for handlers that only read (it never takes SQLite's write lock)."""
    session = svc.read_sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def authenticate(request: Request, svc: EgressService) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("a bearer token is required")
    token = token.strip()
    source = client_address(request)
    if looks_like_project_token(token):
        if svc.project_token_key is None:
            raise NotAuthenticated("project tokens are not enabled on this service")
        pp = verify_project_token(token, svc.project_token_key, max_ttl_seconds=svc.policy.tokens.project_token_max_ttl_seconds)
        # Printed in the notebook and copied out, the token must open nothing: it works only from the
        # project network the hub bound it to (the TCP peer, not a forwarded address).
        if pp.network is not None and not peer_in_network(direct_peer(request), pp.network):
            raise NotAuthenticated("this project token works only from inside its project's sandbox")
        if pp.network is not None and relayed(request):  # a sandbox calls directly; the internet comes through the ingress
            raise NotAuthenticated("this project token works only from inside its project's sandbox, not through a proxy")
        # The token says who and which project; provisioning says whether that is still allowed.
        with svc.read_sessions() as session:
            allowed = projects.can_access(session, pp.username, pp.project)
            session.rollback()
        if not allowed:
            raise Forbidden(f"project {pp.project} is not open to {pp.username}")
        return Principal(pp.username, frozenset({Role.RESEARCHER}), pp.project, Via.PROJECT_TOKEN, source)
    principal = svc.keycloak.principal(token, source)
    if not principal.roles:
        raise Forbidden("your account has none of the roles researcher, output-checker or admin")
    return principal


def get_principal(request: Request, svc: Annotated[EgressService, Depends(get_service)]) -> Principal:
    return authenticate(request, svc)


ServiceDep = Annotated[EgressService, Depends(get_service)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
