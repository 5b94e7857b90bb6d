"""Who may do what. ``check_*`` raise :class:`~egress_review.errors.Forbidden` (or ``NotFound`` where
admitting the object exists would leak it); ``can_*`` are the same rules as booleans for templates.

Project-bound rules always re-ask provisioning (:func:`egress_review.projects.can_access`), so a
suspended project or a removed member loses access at once, whatever token they hold.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import Session

from egress_review import projects
from egress_review.errors import Forbidden, NotFound
from egress_review.identity.principal import Principal, Via
from egress_review.models import ReleaseRequest
from egress_review.policy import EgressPolicy
from egress_review.states import RequestState
from sandkasse.usernames import normalise_username


def _member_of(session: Session, p: Principal, project: str) -> bool:
    if p.project is not None and p.project != project:
        return False  # a project token speaks for its project only
    return projects.can_access(session, p.username, project)


def check_create_request(session: Session, p: Principal) -> str:
    """Requests are created from inside a project's sandbox only; returns the project."""
    if p.via is not Via.PROJECT_TOKEN or p.project is None:
        raise Forbidden("release requests are created from inside a project (use the project token)")
    if not projects.can_access(session, p.username, p.project):
        raise Forbidden(f"project {p.project} is not open to you")
    return p.project


def can_view_request(session: Session, p: Principal, req: ReleaseRequest) -> bool:
    if _member_of(session, p, req.project):
        return True
    # Checkers and admins see submitted work of every project; drafts stay private to the project.
    return (p.is_checker or p.is_admin) and req.state != RequestState.DRAFT


def visible_clause(session: Session, p: Principal) -> ColumnElement[bool]:
    """:func:`can_view_request` as a query condition: provisioning is asked once, not per row."""
    mine = projects.open_projects(session, p.username)
    if p.project is not None:
        mine &= {p.project}
    member = ReleaseRequest.project.in_(sorted(mine))
    if p.is_checker or p.is_admin:
        return or_(member, ReleaseRequest.state != RequestState.DRAFT.value)
    return member


def check_view_request(session: Session, p: Principal, req: ReleaseRequest) -> None:
    if not can_view_request(session, p, req):
        # Not 403: a researcher of another project must not learn that the request exists.
        raise NotFound("no such release request")


def can_edit_request(session: Session, p: Principal, req: ReleaseRequest) -> bool:
    return p.username == req.requester and _member_of(session, p, req.project)


def check_edit_request(session: Session, p: Principal, req: ReleaseRequest) -> None:
    check_view_request(session, p, req)
    if not can_edit_request(session, p, req):
        raise Forbidden("only the researcher who made this request may change it")


def check_upload(session: Session, p: Principal, req: ReleaseRequest) -> None:
    check_edit_request(session, p, req)
    if p.via is not Via.PROJECT_TOKEN:
        raise Forbidden("files are uploaded from inside the project (use the project token)")


def conflict_of_interest(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> str | None:
    if normalise_username(p.username) == normalise_username(req.requester):
        return "you cannot review your own request"
    if policy.review.forbid_member_review and projects.was_ever_member(session, p.username, req.project):
        return f"you are or were a member of project {req.project}"
    return None


def can_review(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> bool:
    return p.is_checker and conflict_of_interest(session, p, req, policy) is None


def reviewable_clause(session: Session, p: Principal, policy: EgressPolicy) -> ColumnElement[bool]:
    """:func:`can_review` as a query condition (same conflict-of-interest rules)."""
    if not p.is_checker:
        return false()
    rules = [ReleaseRequest.requester != p.username]
    if policy.review.forbid_member_review:
        rules.append(ReleaseRequest.project.not_in(sorted(projects.memberships(session, p.username))))
    return and_(*rules)


def check_review(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> None:
    check_view_request(session, p, req)
    if not p.is_checker:
        raise Forbidden("only output checkers review requests")
    reason = conflict_of_interest(session, p, req, policy)
    if reason:
        raise Forbidden(f"conflict of interest: {reason}")


def may_read_content(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> bool:
    """May ``p`` read the content of ``req``'s unreleased files: raw bytes, previews, cell values,
    suggested tables, check messages that quote values? The one answer every route asks.

    Checkers who may review it (no conflict of interest) yes. A researcher of the project (requester
    or member) only from inside that project's sandbox, i.e. with the project token the spawner
    issued: a Keycloak login or bearer token works from anywhere, so through it a researcher sees
    metadata only, else any file copied into a request (even a draft's supporting file) would walk
    out unreviewed. Administrators no. Released files are read through the release routes.
    """
    if not can_view_request(session, p, req):
        return False
    if p.via is Via.PROJECT_TOKEN:
        return _member_of(session, p, req.project)
    return can_review(session, p, req, policy)


def check_may_read_content(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> None:
    check_view_request(session, p, req)
    if not may_read_content(session, p, req, policy):
        raise Forbidden("the content of a file under review is readable only by the reviewing checkers and, "
                        "from inside the project's sandbox, its researchers")


def can_download(session: Session, p: Principal, project: str) -> bool:
    return _member_of(session, p, project)


def check_download(session: Session, p: Principal, project: str) -> None:
    if not can_download(session, p, project):
        raise NotFound("no such release")


def can_read_provenance(session: Session, p: Principal, req: ReleaseRequest) -> bool:
    """May ``p`` read a release's provenance (request, checks, votes, manifest; the released files)?
    The project's members, and the checkers (no conflict of interest is needed: the files are released)."""
    return can_download(session, p, req.project) or (p.is_checker and can_view_request(session, p, req))


def check_read_provenance(session: Session, p: Principal, req: ReleaseRequest) -> None:
    if not can_read_provenance(session, p, req):
        raise NotFound("no such release")


def check_admin(p: Principal) -> None:
    if not p.is_admin:
        raise Forbidden("administrators only")
