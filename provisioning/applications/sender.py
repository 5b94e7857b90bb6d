"""Sends the application notices in the outbox: claim due rows with a lease (a conditional UPDATE
only one sender wins), send each over SMTP (:mod:`sandkasse.mail`), mark it sent. At least once: a
sender that dies between sending and marking leaves the claim to expire, and the notice goes again."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from provisioning.applications.models import ApplicationNotice
from provisioning.applications.policy import NoticePolicy
from sandkasse import mail
from sandkasse.audit import utcnow
from sandkasse.outbox_lease import claim_rows

log = logging.getLogger(__name__)


def send_due(sessions: sessionmaker[Session], pol: NoticePolicy, limit: int = 100) -> int:
    """One round; returns how many notices were sent."""
    if pol.smtp is None:
        return 0
    cutoff = utcnow() - timedelta(seconds=pol.lease_seconds)
    claimable = (ApplicationNotice.sent_at.is_(None), ApplicationNotice.attempts < pol.max_attempts,
                 or_(ApplicationNotice.claimed_at.is_(None), ApplicationNotice.claimed_at < cutoff))
    claimed: list[ApplicationNotice] = claim_rows(
        sessions, ApplicationNotice, claimable, {"claimed_at": utcnow(), "attempts": ApplicationNotice.attempts + 1}, limit=limit)
    sent = 0
    for notice in claimed:
        try:
            mail.send_email(pol.smtp, notice.recipient, notice.subject, notice.body, message_id=notice.id,
                            username=os.environ.get("SANDKASSE_SMTP_USERNAME", ""),
                            password=os.environ.get("SANDKASSE_SMTP_PASSWORD", ""))
            values = {"sent_at": utcnow(), "last_error": ""}
            sent += 1
        except Exception as exc:  # stays claimed: retried when the lease runs out
            log.warning("application notice to %s failed: %s", notice.recipient, exc)
            values = {"last_error": repr(exc)[:500]}
        with sessions() as session:
            session.execute(update(ApplicationNotice).where(ApplicationNotice.id == notice.id).values(**values))
            session.commit()
    return sent
