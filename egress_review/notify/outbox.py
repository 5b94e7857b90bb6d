"""Writing notifications into the outbox, in the caller's transaction.

The hooks here are called where the state changes (:func:`egress_review.transition.apply`,
:func:`egress_review.review.submit_review`), before the caller commits: the message exists exactly
when the change does, and a crash after the commit leaves it in the table for the sender.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review import projects
from egress_review.models import ReleaseRequest
from egress_review.notify import messages
from egress_review.notify.models import NotifyPreference, OutboxMessage
from egress_review.policy import NotificationPolicy
from egress_review.states import RequestState
from sandkasse.audit import utcnow

SESSION_KEY = "egress_notify"
CHECKER_ROLE = "output-checker"
MODES = ("immediate", "digest")


def policy_of(session: Session) -> NotificationPolicy | None:
    pol = session.info.get(SESSION_KEY)
    return pol if pol is not None and pol.enabled else None


def _contacts(session: Session, pol: NotificationPolicy, role: str | None = None) -> dict[str, str]:
    from provisioning import api

    known = api.contacts(session, role=role)
    names = {*known, *pol.emails} if role is None else {*known, *pol.checkers}
    return {u: known.get(u) or pol.emails.get(u, "") for u in names}


def mode_of(session: Session, username: str) -> str:
    pref = session.get(NotifyPreference, username)
    return pref.mode if pref is not None else "immediate"


def set_mode(session: Session, username: str, mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    pref = session.get(NotifyPreference, username) or NotifyPreference(username=username)
    pref.mode, pref.updated_at = mode, utcnow()
    session.add(pref)


def _digest_due(now: datetime, period: int) -> datetime:
    # one boundary for everyone: a checker's notices of the period leave together
    epoch = now.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / period) * period, tz=now.tzinfo)


def _email(session: Session, pol: NotificationPolicy, event: str, req: ReleaseRequest, username: str,
           address: str, msg: messages.Message) -> None:
    if pol.smtp is None or not address:
        return
    now = utcnow()
    digest = mode_of(session, username) == "digest"
    session.add(OutboxMessage(event=event, request_id=req.id, channel="email", recipient=address, username=username,
                              subject=msg.subject, body=msg.body, created_at=now, digest=digest,
                              due_at=_digest_due(now, pol.digest_seconds) if digest else now))


def _webhook(session: Session, pol: NotificationPolicy, event: str, req: ReleaseRequest,
             msg: messages.Message) -> None:
    if pol.webhook is None or event not in pol.webhook.events:
        return
    session.add(OutboxMessage(event=event, request_id=req.id, channel="webhook", recipient="webhook",
                              subject=msg.subject, body=msg.body))


def _reviewers(session: Session, pol: NotificationPolicy, req: ReleaseRequest, exclude: set[str]) -> dict[str, str]:
    # members of the project may not review it, so they are not asked to
    return {u: a for u, a in _contacts(session, pol, CHECKER_ROLE).items()
            if u not in exclude and u != req.requester and projects.member_role(session, u, req.project) is None}


def on_transition(session: Session, req: ReleaseRequest, target: RequestState) -> None:
    pol = policy_of(session)
    if pol is None:
        return
    if target is RequestState.SUBMITTED:
        msg = messages.waiting(req.project, req.id, pol.base_url)
        for username, address in sorted(_reviewers(session, pol, req, set()).items()):
            _email(session, pol, "waiting", req, username, address, msg)
        _webhook(session, pol, "waiting", req, msg)
    elif target.value in messages.DECISIONS:
        msg = messages.decided(target.value, req.project, req.id, pol.base_url)
        _email(session, pol, target.value, req, req.requester, _contacts(session, pol).get(req.requester, ""), msg)
        _webhook(session, pol, target.value, req, msg)


def on_review_submitted(session: Session, req: ReleaseRequest, reviewed: set[str]) -> None:
    """One checker (or more, but fewer than required) has reviewed this turn: ask the others."""
    pol = policy_of(session)
    if pol is None:
        return
    msg = messages.second_review(req.project, req.id, pol.base_url)
    for username, address in sorted(_reviewers(session, pol, req, reviewed).items()):
        _email(session, pol, "second_review", req, username, address, msg)
    _webhook(session, pol, "second_review", req, msg)


def pending(session: Session) -> list[OutboxMessage]:
    return list(session.execute(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                                .order_by(OutboxMessage.created_at)).scalars())


def lease_cutoff(pol: NotificationPolicy) -> datetime:
    return utcnow() - timedelta(seconds=pol.lease_seconds)
