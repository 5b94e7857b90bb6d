"""Who runs ``sandkasse-admin``, as the operating system vouches for it.

``--actor`` / ``SANDKASSE_ACTOR`` are free text: fine for labelling routine changes, not for the
decisions that need an accountable person. Those (the risk override) take the operator from the
process's real user id, which the caller cannot choose, and refuse a claimed actor that differs.
"""

from __future__ import annotations

import os
import pwd

from pydantic import BaseModel

from provisioning.errors import ProvisioningError
from sandkasse.usernames import normalise_username


class Operator(BaseModel):
    username: str  # the login name of the real user id
    uid: int
    sudo_user: str | None = None  # set when root acts through sudo: who typed the command

    def audit_detail(self) -> dict[str, object]:
        detail: dict[str, object] = {"authenticated_by": "os-user", "uid": self.uid}
        if self.sudo_user:
            detail["sudo_user"] = self.sudo_user
        return detail


def os_operator() -> Operator:
    uid = os.getuid()
    # getpass.getuser() reads LOGNAME/USER first, which anyone can set; the password database cannot
    # be lied to by the caller.
    name = normalise_username(pwd.getpwuid(uid).pw_name)
    # SUDO_USER is only trusted from root: sudo sets it, and only root could have forged it anyway.
    sudo = os.environ.get("SUDO_USER") if uid == 0 else None
    return Operator(username=name, uid=uid, sudo_user=normalise_username(sudo) if sudo else None)


def accountable_operator(claimed: str | None) -> Operator:
    """The operator for a decision that needs an accountable person; a free-text actor naming anyone
    else is refused (it would put another person's name on the decision)."""
    me = os_operator()
    if claimed and normalise_username(claimed) != me.username:
        raise ProvisioningError(
            f"this decision is recorded under the operator running the command ({me.username}, uid {me.uid}); "
            f"--actor/SANDKASSE_ACTOR {claimed!r} cannot name someone else. Run it as that person's own account."
        )
    return me
