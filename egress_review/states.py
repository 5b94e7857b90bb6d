"""The release-request state machine: the shared vocabulary and ONE table of allowed transitions.

Every action in :mod:`egress_review.requests` first asks :func:`check_transition`, then changes the
state and writes the audit event in the same transaction. ``docs/egress-states.md`` is generated from
:data:`TRANSITIONS` (:func:`mermaid`) and a unit test fails when the two drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    DRAFT = "draft"
    """Being assembled by the researcher; nothing has been checked by a person yet."""
    SUBMITTED = "submitted"
    """Waiting for independent reviews; automatic check results are stored with each file."""
    REVIEWED = "reviewed"
    """Enough independent reviews are in; votes are no longer blinded and checkers decide."""
    APPROVED = "approved"
    """Every output file approved or withdrawn; the system moves the files to the release area."""
    RELEASED = "released"
    """Files are in the release area with a signed manifest; project members may download them."""
    RETURNED = "returned"
    """Sent back to the researcher with a shared comment; may be changed and resubmitted."""
    REJECTED = "rejected"
    """Refused for good; nothing leaves."""
    WITHDRAWN = "withdrawn"
    """Abandoned by the researcher; nothing leaves."""


class Owner(StrEnum):
    RESEARCHER = "researcher"
    """The requester (and only the requester) acts next."""
    CHECKERS = "checkers"
    """Output checkers act next."""
    SYSTEM = "system"
    """Nobody acts by hand: the service finishes the step, or the state is final."""


class Action(StrEnum):
    SUBMIT = "submit"
    REVIEW = "review"  # the system moves a request on when enough reviews are in
    APPROVE = "approve"
    RETURN = "return"
    REJECT = "reject"
    RELEASE = "release"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"


S = RequestState

# The single source of truth: (from, action) -> to.
TRANSITIONS: dict[tuple[RequestState, Action], RequestState] = {
    (S.DRAFT, Action.SUBMIT): S.SUBMITTED,
    (S.DRAFT, Action.WITHDRAW): S.WITHDRAWN,
    (S.SUBMITTED, Action.REVIEW): S.REVIEWED,
    (S.REVIEWED, Action.APPROVE): S.APPROVED,
    (S.REVIEWED, Action.RETURN): S.RETURNED,
    (S.REVIEWED, Action.REJECT): S.REJECTED,
    (S.APPROVED, Action.RELEASE): S.RELEASED,
    (S.RETURNED, Action.RESUBMIT): S.SUBMITTED,
    (S.RETURNED, Action.WITHDRAW): S.WITHDRAWN,
}

OWNERS: dict[RequestState, Owner] = {
    S.DRAFT: Owner.RESEARCHER,
    S.SUBMITTED: Owner.CHECKERS,
    S.REVIEWED: Owner.CHECKERS,
    S.APPROVED: Owner.SYSTEM,
    S.RELEASED: Owner.SYSTEM,
    S.RETURNED: Owner.RESEARCHER,
    S.REJECTED: Owner.SYSTEM,
    S.WITHDRAWN: Owner.SYSTEM,
}

# Who may trigger each action; the owner of the state it starts from must match.
ACTION_ACTOR: dict[Action, Owner] = {
    Action.SUBMIT: Owner.RESEARCHER,
    Action.RESUBMIT: Owner.RESEARCHER,
    Action.WITHDRAW: Owner.RESEARCHER,
    Action.REVIEW: Owner.SYSTEM,
    Action.APPROVE: Owner.CHECKERS,
    Action.RETURN: Owner.CHECKERS,
    Action.REJECT: Owner.CHECKERS,
    Action.RELEASE: Owner.SYSTEM,
}

FINAL_STATES = frozenset({S.RELEASED, S.REJECTED, S.WITHDRAWN})
# States in which the researcher may add, replace or withdraw files.
EDITABLE_STATES = frozenset({S.DRAFT, S.RETURNED})
# States in which checkers may vote.
VOTING_STATES = frozenset({S.SUBMITTED, S.REVIEWED})


class TransitionError(Exception):
    """The action is not allowed from the request's current state."""

    def __init__(self, state: RequestState, action: Action) -> None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == state)
        super().__init__(
            f"cannot {action.value} a request that is {state.value}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else " (it is final)")
        )
        self.state = state
        self.action = action


def next_state(state: RequestState, action: Action) -> RequestState | None:
    return TRANSITIONS.get((RequestState(state), action))


def check_transition(state: RequestState, action: Action) -> RequestState:
    """The state after ``action``, or :class:`TransitionError`."""
    target = next_state(state, action)
    if target is None:
        raise TransitionError(RequestState(state), action)
    return target


def allowed_actions(state: RequestState) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == RequestState(state)]


class FileKind(StrEnum):
    OUTPUT = "output"
    """Leaves the TRE when approved."""
    SUPPORTING = "supporting"
    """Read by checkers to judge an output; never leaves."""


class VoteDecision(StrEnum):
    APPROVE = "approve"
    CHANGES_REQUESTED = "changes_requested"
    REJECT = "reject"


class FileDecision(StrEnum):
    """A file's outcome, computed from the (unblinded) votes of the current version."""

    PENDING = "pending"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    CONFLICTED = "conflicted"
    WITHDRAWN = "withdrawn"


class Visibility(StrEnum):
    CHECKERS = "checkers"
    """Only output checkers see it."""
    SHARED = "shared"
    """The researcher sees it too."""


def mermaid() -> str:
    """The state diagram (Mermaid) generated from :data:`TRANSITIONS` and :data:`OWNERS`."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for (source, action), target in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {action.value} ({ACTION_ACTOR[action].value})")
    for state in sorted(FINAL_STATES):
        lines.append(f"    {state.value} --> [*]")
    for state, owner in OWNERS.items():
        lines.append(f"    note right of {state.value}: owner {owner.value}")
    return "\n".join(lines) + "\n"
