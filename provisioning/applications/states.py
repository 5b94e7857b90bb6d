"""The application state machine: ONE table of who may move an application from which state to which.

    draft ─submit→ submitted ─(every dataset owner approves their part)→ dpo_assessment ─dpo_approve→
    controller_approval ─approve→ approved ─provision→ provisioned

Each decision stage may also ``return`` the application for changes (the applicant edits and
``resubmit``\\ s it, which starts a new round) or ``reject`` it with reasons; the applicant may
``withdraw`` it until it is approved. :func:`provisioning.applications.workflow.move` checks this table
first, then changes the state and writes the audit event in the same transaction.
"""

from __future__ import annotations

from enum import StrEnum

from provisioning.errors import InvalidTransition


class AppState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # waiting for each dataset owner's decision on their dataset
    DPO_ASSESSMENT = "dpo_assessment"  # the data protection officer assesses (DPIA screening, minimisation)
    CONTROLLER_APPROVAL = "controller_approval"  # the controller's representative gives final approval
    APPROVED = "approved"  # approved; the system provisions the project
    PROVISIONED = "provisioned"  # the project exists (final)
    RETURNED = "returned"  # back with the applicant for changes
    REJECTED = "rejected"  # refused with reasons (final)
    WITHDRAWN = "withdrawn"  # abandoned by the applicant (final)


class Actor(StrEnum):
    APPLICANT = "applicant"
    DATASET_OWNER = "dataset-owner"
    DPO = "dpo"
    CONTROLLER = "controller"
    SYSTEM = "system"


class Action(StrEnum):
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    OWNERS_AGREE = "owners_agree"
    DPO_APPROVE = "dpo_approve"
    APPROVE = "approve"
    PROVISION = "provision"
    RETURN = "return"
    REJECT = "reject"
    WITHDRAW = "withdraw"


S, A, W = AppState, Action, Actor

# The single source of truth: (from, action) -> (to, who may do it).
TRANSITIONS: dict[tuple[AppState, Action], tuple[AppState, Actor]] = {
    (S.DRAFT, A.SUBMIT): (S.SUBMITTED, W.APPLICANT),
    (S.DRAFT, A.WITHDRAW): (S.WITHDRAWN, W.APPLICANT),
    (S.RETURNED, A.RESUBMIT): (S.SUBMITTED, W.APPLICANT),
    (S.RETURNED, A.WITHDRAW): (S.WITHDRAWN, W.APPLICANT),
    (S.SUBMITTED, A.OWNERS_AGREE): (S.DPO_ASSESSMENT, W.SYSTEM),
    (S.SUBMITTED, A.RETURN): (S.RETURNED, W.DATASET_OWNER),
    (S.SUBMITTED, A.REJECT): (S.REJECTED, W.DATASET_OWNER),
    (S.SUBMITTED, A.WITHDRAW): (S.WITHDRAWN, W.APPLICANT),
    (S.DPO_ASSESSMENT, A.DPO_APPROVE): (S.CONTROLLER_APPROVAL, W.DPO),
    (S.DPO_ASSESSMENT, A.RETURN): (S.RETURNED, W.DPO),
    (S.DPO_ASSESSMENT, A.REJECT): (S.REJECTED, W.DPO),
    (S.DPO_ASSESSMENT, A.WITHDRAW): (S.WITHDRAWN, W.APPLICANT),
    (S.CONTROLLER_APPROVAL, A.APPROVE): (S.APPROVED, W.CONTROLLER),
    (S.CONTROLLER_APPROVAL, A.RETURN): (S.RETURNED, W.CONTROLLER),
    (S.CONTROLLER_APPROVAL, A.REJECT): (S.REJECTED, W.CONTROLLER),
    (S.CONTROLLER_APPROVAL, A.WITHDRAW): (S.WITHDRAWN, W.APPLICANT),
    (S.APPROVED, A.PROVISION): (S.PROVISIONED, W.SYSTEM),
}

FINAL = frozenset({S.PROVISIONED, S.REJECTED, S.WITHDRAWN})
EDITABLE = frozenset({S.DRAFT, S.RETURNED})

# Who acts next in each state (for the queues and the notices); None: nobody by hand.
DECIDER: dict[AppState, Actor | None] = {
    S.DRAFT: W.APPLICANT,
    S.RETURNED: W.APPLICANT,
    S.SUBMITTED: W.DATASET_OWNER,
    S.DPO_ASSESSMENT: W.DPO,
    S.CONTROLLER_APPROVAL: W.CONTROLLER,
    S.APPROVED: W.SYSTEM,
    S.PROVISIONED: None,
    S.REJECTED: None,
    S.WITHDRAWN: None,
}


def check_transition(state: AppState, action: Action, actor: Actor) -> AppState:
    """The state ``action`` leads to from ``state`` when ``actor`` does it; raises otherwise."""
    step = TRANSITIONS.get((state, action))
    if step is None:
        allowed = ", ".join(sorted(a.value for (s, a) in TRANSITIONS if s is state)) or "nothing (final)"
        raise InvalidTransition(f"an application that is {state.value} cannot {action.value} (allowed: {allowed})")
    target, who = step
    if who is not actor:
        raise InvalidTransition(f"{action.value} on a {state.value} application is done by the {who.value}, not the {actor.value}")
    return target


def mermaid() -> str:
    """The table as a Mermaid state diagram (docs)."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for (source, action), (target, who) in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {action.value} ({who.value})")
    lines += [f"    {s.value} --> [*]" for s in sorted(FINAL)]
    return "\n".join(lines)
