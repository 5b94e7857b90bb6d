"""What an audit viewer may read of each event: blinding holds in the audit views too.

An administrator who is also an output checker could otherwise read the other checker's live votes
(``file.vote`` events carry the decision) before the reviews are in, and vote to match. For a viewer
with the checker role, the decision of another checker's vote on a request that is still blinded
(:data:`egress_review.visibility.UNBLINDED`) is replaced by a placeholder; who voted, and when, stays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.identity.principal import Principal
from egress_review.models import EgressAuditEvent, ReleaseRequest
from egress_review.states import RequestState
from egress_review.visibility import UNBLINDED

BLINDED_FIELDS = ("decision", "previous")
HIDDEN = "(blinded until the reviews are in)"
_VOTES = frozenset({"file.vote"})


def event_details(session: Session, p: Principal, events: Iterable[EgressAuditEvent]) -> list[dict[str, Any]]:
    """Each event's detail as ``p`` may read it (same order as ``events``)."""
    events = list(events)
    details = [json.loads(e.detail or "{}") for e in events]
    if not p.is_checker:
        return details
    asked = {d.get("request") for e, d in zip(events, details) if e.action in _VOTES and e.actor != p.username}
    asked.discard(None)
    blinded: set[str] = set()
    if asked:
        rows = session.execute(select(ReleaseRequest.id, ReleaseRequest.state).where(ReleaseRequest.id.in_(sorted(asked))))
        blinded = {rid for rid, state in rows if RequestState(state) not in UNBLINDED}
    for e, d in zip(events, details):
        if e.action in _VOTES and e.actor != p.username and d.get("request") in blinded:
            for name in BLINDED_FIELDS:
                if name in d:
                    d[name] = HIDDEN
    return details
