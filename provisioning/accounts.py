"""Which Keycloak account a user name belongs to, so that a deleted account's name is a tombstone.

Sandkasse keys applications, project memberships and audit history by user name. With
self-registration (the demo realm) anyone may register a name Keycloak has freed by deleting an
account, and would inherit all of that. So the first time a name is seen in use (a portal login, the
Keycloak sync making or adopting its account) the account's ``sub`` is recorded, and from then on the
name is that account's: another account under the same name (a new registration after a deletion) is
refused at the portal's login and by the sync, and the refusal is audited.

The name moves to another account only when the sync adopts an account it has proved to be a registered
person's (verified address, :meth:`provisioning.keycloak_sync.KeycloakSync._is_theirs`), or an admin
releases it (``sandkasse-admin person release-name``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.models import AccountName
from sandkasse.usernames import normalise_username


def bound_to(session: Session, username: str) -> str | None:
    """The ``sub`` of the account the name belongs to, or None when it was never seen in use."""
    row = session.get(AccountName, normalise_username(username))
    return row.subject if row is not None else None


def claim(session: Session, username: str, subject: str, *, via: str, actor: str = "system") -> bool:
    """True when ``subject`` may use the name: it is the name's account, or the name was never bound
    (it is bound now). False for another account (the refusal is audited; commit it before refusing)."""
    username = normalise_username(username)
    row = session.get(AccountName, username)
    if row is None:
        bind(session, username, subject, via=via, actor=actor)
        return True
    if row.subject == subject:
        return True
    audit.record(session, actor=actor, action="account.name_refused", object_type="account", object_id=username,
                 reason="the name belongs to another (deleted) Keycloak account", role="system", source=via,
                 subject=subject)
    return False


def bind(session: Session, username: str, subject: str, *, via: str, actor: str = "system", reason: str = "") -> None:
    """Record (or move, for a proved owner) the name's account."""
    username = normalise_username(username)
    row = session.get(AccountName, username)
    if row is not None and row.subject == subject:
        return
    previous = row.subject if row is not None else None
    if row is None:
        session.add(AccountName(username=username, subject=subject, bound_by=via))
    else:
        row.subject, row.bound_by = subject, via
    session.flush()
    audit.record(session, actor=actor, action="account.bind" if previous is None else "account.rebind",
                 object_type="account", object_id=username, reason=reason, role="system", source=via,
                 subject=subject, **({"previous": previous} if previous else {}))


def release(session: Session, username: str, *, actor: str, reason: str) -> bool:
    """Forget the name's account (an admin's decision: the next account to use the name gets it)."""
    row = session.get(AccountName, normalise_username(username))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(session, actor=actor, action="account.release", object_type="account", object_id=row.username,
                 reason=reason, previous=row.subject)
    return True
