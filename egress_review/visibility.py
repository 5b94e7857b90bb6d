"""What a viewer may see of a request while reviews are blinded.

Until the request is ``reviewed`` (enough independent reviews in this turn), a checker sees only
their own votes and comments of this turn; afterwards every checker sees everything. Researchers
see shared comments, and the file decisions and shared vote comments once the request is decided.
"""

from __future__ import annotations

from egress_review.identity.principal import Principal
from egress_review.models import Comment, ReleaseRequest, Vote
from egress_review.states import RequestState, Visibility

UNBLINDED = frozenset(
    {RequestState.REVIEWED, RequestState.APPROVED, RequestState.RELEASED, RequestState.RETURNED, RequestState.REJECTED}
)
DECIDED = frozenset({RequestState.APPROVED, RequestState.RELEASED, RequestState.RETURNED, RequestState.REJECTED})


def sees_as_checker(p: Principal, req: ReleaseRequest, is_member: bool) -> bool:
    return (p.is_checker or p.is_admin) and not is_member and p.username != req.requester


def visible_votes(p: Principal, req: ReleaseRequest, votes: list[Vote], as_checker: bool) -> list[Vote]:
    state = RequestState(req.state)
    if as_checker:
        if state in UNBLINDED:
            return votes
        return [v for v in votes if v.reviewer == p.username]
    if state in DECIDED:
        return [v for v in votes if v.visibility == Visibility.SHARED]
    return []


def visible_comments(p: Principal, req: ReleaseRequest, as_checker: bool) -> list[Comment]:
    state = RequestState(req.state)
    out = []
    for c in req.comments:
        if as_checker:
            blinded = state not in UNBLINDED and c.turn == req.turn and c.author_role == "output-checker"
            if blinded and c.author != p.username:
                continue
            out.append(c)
        elif c.visibility == Visibility.SHARED and (
            state in DECIDED or c.author_role == "researcher" or c.turn < req.turn
        ):
            out.append(c)
    return out


def visible_decisions(req: ReleaseRequest, as_checker: bool) -> bool:
    state = RequestState(req.state)
    return state in UNBLINDED if as_checker else state in DECIDED
