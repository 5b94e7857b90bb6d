"""The outbox sender: claim due messages with a lease, send them, mark them sent.

Delivery is at least once. A message is marked sent only after the SMTP server or webhook has
accepted it; a sender that dies between those two steps leaves the row claimed, and once the lease
runs out (``notifications.lease_seconds``) any sender sends it again: the crash window is the only
source of duplicates. Two senders (replicas) never send the same row in the normal path because
the claim is a conditional UPDATE that only one of them wins.

Runs beside the API (:class:`NotifyLoop`) or on its own:
``python -m egress_review.notify.sender --database-url URL --policy policies/egress.yaml``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import uuid
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from egress_review.notify import channels, messages
from egress_review.notify.models import OutboxMessage
from egress_review.notify.outbox import lease_cutoff
from egress_review.policy import NotificationPolicy
from sandkasse.audit import utcnow
from sandkasse.outbox_lease import claim_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    id: str
    channel: str
    recipient: str
    subject: str
    body: str
    digest: bool


def claim(sessions: sessionmaker[Session], pol: NotificationPolicy, token: str, limit: int = 100) -> list[Claimed]:
    """Take the lease on due, unsent messages nobody else holds; each row is won by one sender only."""
    claimable = (OutboxMessage.sent_at.is_(None), OutboxMessage.due_at <= utcnow(),
                 OutboxMessage.attempts < pol.max_attempts,
                 or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < lease_cutoff(pol)))
    return claim_rows(sessions, OutboxMessage, claimable,
                      {"claimed_at": utcnow(), "claim": token, "attempts": OutboxMessage.attempts + 1},
                      keep=lambda m: Claimed(m.id, m.channel, m.recipient, m.subject, m.body, m.digest), limit=limit)


def _mark(sessions: sessionmaker[Session], ids: list[str], token: str, error: str | None) -> None:
    with sessions() as session:
        values = {"sent_at": utcnow(), "claimed_at": None, "last_error": ""} if error is None else \
            {"last_error": error[:500]}
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claim == token)
                        .values(**values).execution_options(synchronize_session=False))
        session.commit()


def send_due(sessions: sessionmaker[Session], pol: NotificationPolicy) -> int:
    """One round: send every due message (a recipient's due digest notices as one message).
    Returns the number of messages marked sent."""
    token = uuid.uuid4().hex
    groups: dict[tuple[str, str, str], list[Claimed]] = {}
    for c in claim(sessions, pol, token):
        groups.setdefault((c.channel, c.recipient, "digest" if c.digest else c.id), []).append(c)
    sent = 0
    for (channel, recipient, _), items in groups.items():
        parts = [messages.Message(c.subject, c.body) for c in items]
        msg = parts[0] if len(parts) == 1 else messages.digest(parts)
        ids = [c.id for c in items]
        try:
            if channel == "email" and pol.smtp is not None:
                channels.send_email(pol.smtp, recipient, msg.subject, msg.body, message_id=ids[0],
                                    username=os.environ.get("SANDKASSE_SMTP_USERNAME", ""),
                                    password=os.environ.get("SANDKASSE_SMTP_PASSWORD", ""))
            elif channel == "webhook" and pol.webhook is not None:
                channels.send_webhook(pol.webhook, f"{msg.subject}\n{msg.body}")
            else:
                raise RuntimeError(f"channel {channel} is not configured")
        except Exception as exc:  # stays claimed: retried when the lease runs out
            log.warning("notification to %s on %s failed: %s", recipient, channel, exc)
            _mark(sessions, ids, token, repr(exc))
            continue
        _mark(sessions, ids, token, None)
        sent += len(ids)
    return sent


class NotifyLoop:
    """Sends due outbox messages every ``sweep_seconds`` on the service's event loop."""

    def __init__(self, sessions: sessionmaker[Session], pol: NotificationPolicy) -> None:
        self.sessions, self.pol = sessions, pol
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="egress-notify")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await run_in_threadpool(send_due, self.sessions, self.pol)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next round tries again
                log.exception("sending notifications failed")
            await asyncio.sleep(self.pol.sweep_seconds)


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    from egress_review import db
    from egress_review.policy import load_egress_policy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: run until killed)")
    args = ap.parse_args(argv)
    pol = load_egress_policy(args.policy).notifications
    engine = db.make_engine(args.database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    done = 0
    while not args.rounds or done < args.rounds:
        send_due(sessions, pol)
        done += 1
        if not args.rounds or done < args.rounds:
            time.sleep(pol.sweep_seconds)
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
