"""Issue 20.2/4/6: applications are stored whole, move only through the state machine with each
transition's audit event in the same transaction, are decided by the right people (never by a party
to them), and an approved application becomes the project it asked for."""

from __future__ import annotations

import hashlib
import json
import os

import pandas as pd
import pytest
from sqlalchemy import func, select

from provisioning import audit
from provisioning.applications import notices, permissions as perm, workflow
from provisioning.applications.models import Application, ApplicationNotice
from provisioning.applications.policy import ApplicationsPolicy
from provisioning.applications.provision import provision
from provisioning.applications.states import TRANSITIONS, Action, Actor, AppState, check_transition
from provisioning.errors import InvalidTransition
from provisioning.models import Project, ProvisioningAuditEvent
from sandkasse.db import session_scope
from tests.unit.provisioning.app_factories import (
    ADMIN, APPLICANT, CONTROLLER, DPO, OWNER, approved, content, make_data, make_factory, submitted,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("synth"))


@pytest.fixture
def factory(tmp_path, data):
    return make_factory(tmp_path, data)


def _count(factory, model) -> int:
    with session_scope(factory) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _state(factory, app_id) -> str:
    with session_scope(factory) as s:
        return s.get(Application, app_id).state


def _events(factory, app_id) -> list[str]:
    with session_scope(factory) as s:
        return [e.action for e in audit.events(s, "application", app_id)]


# --------------------------------------------------------------------------------------- the table


def test_the_table_names_who_moves_each_state_and_refuses_everyone_else():
    assert check_transition(AppState.DRAFT, Action.SUBMIT, Actor.APPLICANT) is AppState.SUBMITTED
    with pytest.raises(InvalidTransition, match="done by the controller"):
        check_transition(AppState.CONTROLLER_APPROVAL, Action.APPROVE, Actor.DPO)
    with pytest.raises(InvalidTransition, match="cannot approve"):
        check_transition(AppState.SUBMITTED, Action.APPROVE, Actor.CONTROLLER)  # no skipping the DPO
    for state in (AppState.PROVISIONED, AppState.REJECTED, AppState.WITHDRAWN):
        assert not [a for (s, a) in TRANSITIONS if s is state]
    # every decision stage can return and reject; only the applicant withdraws
    for stage, who in ((AppState.SUBMITTED, Actor.DATASET_OWNER), (AppState.DPO_ASSESSMENT, Actor.DPO),
                       (AppState.CONTROLLER_APPROVAL, Actor.CONTROLLER)):
        assert TRANSITIONS[(stage, Action.RETURN)] == (AppState.RETURNED, who)
        assert TRANSITIONS[(stage, Action.REJECT)] == (AppState.REJECTED, who)
        assert TRANSITIONS[(stage, Action.WITHDRAW)][1] is Actor.APPLICANT


# ------------------------------------------------------------------------------------- drafts, fields


def test_a_draft_is_saved_and_each_bad_field_is_named_with_nothing_stored(factory):
    with session_scope(factory) as s:
        app = workflow.create(s, APPLICANT, content(title="Draft one", purpose=""))
        app_id = app.id
    with pytest.raises(workflow.FieldErrors) as bad:
        workflow.parse_content({"title": "x", "start_date": "2026-02-30", "members": ["not-an-address"],
                                "legal_basis_art6": "6(1)(z)"})
    assert {"start_date", "members.0", "legal_basis_art6"} <= set(bad.value.errors), bad.value.errors
    before = (_count(factory, Application), _count(factory, ProvisioningAuditEvent))
    wrong = content(ask={"national_id": ("keep", "need it"), "gender": ("keep", "x"), "shoe_size": ("keep", "x")})
    with session_scope(factory) as s, pytest.raises(workflow.FieldErrors) as bad:
        workflow.save(s, APPLICANT, app_id, wrong)
    assert set(bad.value.errors) == {"datasets.sick-leave.national_id", "datasets.sick-leave.shoe_size"}
    assert "direct identifier" in bad.value.errors["datasets.sick-leave.national_id"]
    with session_scope(factory) as s, pytest.raises(workflow.FieldErrors):
        workflow.create(s, APPLICANT, content(title="Other", ask={"shoe_size": ("keep", "x")}))
    assert (_count(factory, Application), _count(factory, ProvisioningAuditEvent)) == before
    with session_scope(factory) as s:
        assert perm.content_of(s.get(Application, app_id)).title == "Draft one"  # the old draft, whole
    # an incomplete draft is kept but cannot be submitted; the problems name the fields
    with session_scope(factory) as s, pytest.raises(workflow.FieldErrors) as bad:
        workflow.submit(s, APPLICANT, app_id)
    assert bad.value.errors == {"purpose": "required"}
    assert _state(factory, app_id) == "draft"


# ----------------------------------------------------------------------------------------- the walk


def test_the_walk_from_applicant_to_project_with_every_transition_audited(factory, tmp_path):
    app_id = submitted(factory)
    with session_scope(factory) as s:  # the owner approves with a coarser transformation
        workflow.decide(s, OWNER, app_id, "approve", "gender is not needed",
                        transformations_={"sick-leave": {"gender": "drop"}})
    assert _state(factory, app_id) == "dpo_assessment"
    with session_scope(factory) as s:
        workflow.decide(s, DPO, app_id, "approve", "DPIA done")
    with session_scope(factory) as s:
        workflow.decide(s, CONTROLLER, app_id, "approve")
    assert _state(factory, app_id) == "approved"
    with session_scope(factory) as s:
        done = provision(s, app_id, by="conrad", master_key=os.urandom(32), var_dir=tmp_path / "var")
    assert "created" in done and "active" in done

    with session_scope(factory) as s:
        app = s.get(Application, app_id)
        assert app.state == "provisioned"
        project = s.execute(select(Project).where(Project.slug == app.project_slug)).scalar_one()
        assert project.dpia_reference == f"application {app_id}"  # the project names its application
        assert project.status.value == "active"
        assert {m.username: m.role.value for m in project.members} == {"alma": "lead", "bo": "researcher"}
        (ent,) = project.entitlements
        assert {c.column_name: c.transformation for c in ent.columns} == {
            "national_id": "pseudonymise", "gender": "drop", "days": "keep", "diagnosis_group": "keep", "first_name": "drop"}
        (extract,) = project.extracts
        columns = [c["name"] for c in json.loads(extract.columns)]
        prov = [json.loads(e.detail) for e in audit.events(s, "application", app_id) if e.action == "application.provision"][0]
        assert prov["project"] == project.slug and len(prov["decisions"]) == 3
    frame = pd.read_parquet(tmp_path / "var" / "projects" / project.slug / "data" / "sick-leave.parquet")
    assert sorted(frame.columns) == sorted(columns) == ["days", "diagnosis_group", "national_id"]
    assert not frame["national_id"].str.fullmatch(r"\d{11}").any()  # pseudonymised, not the real number
    assert _events(factory, app_id) == [
        "application.create", "application.submit", "application.owner_approve", "application.owners_agree",
        "application.dpo_approve", "application.approve", "application.provision"]


def test_a_transition_and_its_audit_event_commit_together(factory, monkeypatch):
    app_id = submitted(factory)

    def broken(*a, **kw):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(workflow.audit, "record", broken)
    with pytest.raises(RuntimeError), session_scope(factory) as s:
        workflow.decide(s, OWNER, app_id, "return", "say more about the purpose")
    monkeypatch.undo()
    assert _state(factory, app_id) == "submitted"
    assert _events(factory, app_id) == ["application.create", "application.submit"]


def test_return_resubmit_starts_a_new_round_of_owner_decisions(factory):
    app_id = submitted(factory)
    with session_scope(factory) as s, pytest.raises(workflow.FieldErrors):
        workflow.decide(s, OWNER, app_id, "return", "")  # reasons are required
    with session_scope(factory) as s:
        workflow.decide(s, OWNER, app_id, "return", "justify diagnosis_group better")
    with session_scope(factory) as s:
        workflow.save(s, APPLICANT, app_id, content(purpose="A clearer purpose."))
        assert workflow.submit(s, APPLICANT, app_id) is AppState.SUBMITTED
    with session_scope(factory) as s:
        assert perm.datasets_to_decide(s, OWNER, s.get(Application, app_id)) == ["sick-leave"]
        assert perm.deciding_as(s, DPO, s.get(Application, app_id)) is None  # not the DPO's turn
    with session_scope(factory) as s:
        workflow.decide(s, OWNER, app_id, "reject", "the purpose does not need diagnosis groups")
    assert _state(factory, app_id) == "rejected"
    with session_scope(factory) as s, pytest.raises(workflow.NotAllowed):
        workflow.withdraw(s, APPLICANT, app_id)


def test_the_applicant_withdraws_until_approval(factory):
    app_id = submitted(factory)
    with session_scope(factory) as s, pytest.raises(workflow.NotAllowed):
        workflow.withdraw(s, OWNER, app_id)
    with session_scope(factory) as s:
        workflow.withdraw(s, APPLICANT, app_id, "funding fell through")
    assert _state(factory, app_id) == "withdrawn"


# ------------------------------------------------------------------------------------ who decides


def test_a_decision_maker_never_decides_an_application_they_are_a_member_of(factory):
    """Self-approval: the DPO named as a member (by e-mail), a controller who applies, an owner who is
    a former member of the project an amendment changes: none of them decides."""
    app_id = submitted(factory, members=("bo@uni.example", DPO.email))
    with session_scope(factory) as s:
        workflow.decide(s, OWNER, app_id, "approve")
    with session_scope(factory) as s:
        app = s.get(Application, app_id)
        assert perm.is_party(s, DPO, app) and perm.deciding_as(s, DPO, app) is None
        with pytest.raises(workflow.NotAllowed):
            workflow.decide(s, DPO, app_id, "approve")
    assert _state(factory, app_id) == "dpo_assessment"
    # a decision-maker who is also an applicant cannot approve their own application either
    both = perm.Caller("conrad", frozenset({"controller", "applicant"}), "conrad@kommune.example")
    own = submitted(factory, caller=both)
    for who in (OWNER, DPO):
        with session_scope(factory) as s:
            workflow.decide(s, who, own, "approve")
    with session_scope(factory) as s, pytest.raises(workflow.NotAllowed):
        workflow.decide(s, both, own, "approve")
    assert _state(factory, own) == "controller_approval"


def test_an_owner_decides_only_their_datasets_and_applicants_read_only_their_own(factory):
    app_id = submitted(factory)
    stranger_owner = perm.Caller("olav", frozenset({"dataset-owner"}))  # owns nothing
    other_applicant = perm.Caller("berit", frozenset({"applicant"}), "berit@uni.example")
    with session_scope(factory) as s:
        app = s.get(Application, app_id)
        assert perm.may_read(s, APPLICANT, app) and perm.may_read(s, DPO, app) and perm.may_read(s, OWNER, app)
        assert not perm.may_read(s, stranger_owner, app)
        assert not perm.may_read(s, other_applicant, app)
        assert perm.visible_applications(s, other_applicant) == []
        with pytest.raises(workflow.NotAllowed):
            workflow.decide(s, stranger_owner, app_id, "approve")
        with pytest.raises(workflow.NotAllowed):
            workflow.save(s, other_applicant, app_id, content())
    with session_scope(factory) as s:  # a draft is the applicant's alone
        draft = workflow.create(s, APPLICANT, content(title="not yet"))
        assert not perm.may_read(s, DPO, draft) and not perm.may_read(s, ADMIN, draft)


def test_internal_comments_are_for_decision_makers_who_are_not_parties(factory):
    app_id = submitted(factory)
    with session_scope(factory) as s:
        workflow.comment(s, OWNER, app_id, "ask the DPO about diagnosis groups", internal=True)
        workflow.comment(s, OWNER, app_id, "please say which years", internal=False)
        with pytest.raises(workflow.NotAllowed):
            workflow.comment(s, APPLICANT, app_id, "let me in", internal=True)
        app = s.get(Application, app_id)
        assert not perm.may_read_internal(s, APPLICANT, app) and perm.may_read_internal(s, DPO, app)


# ---------------------------------------------------------------------------------------- amendments


def test_an_amendment_changes_the_active_projects_data_and_keeps_its_members(factory, tmp_path):
    var = tmp_path / "var"
    key = os.urandom(32)
    first = approved(factory)
    with session_scope(factory) as s:
        provision(s, first, master_key=key, var_dir=var)
        slug = s.get(Application, first).project_slug
    bo = perm.Caller("bo", frozenset({"applicant"}), "bo@uni.example")
    with session_scope(factory) as s:
        assert not perm.may_amend(s, bo, slug)  # a researcher, not the lead
        with pytest.raises(workflow.NotAllowed):
            workflow.create(s, bo, content(), amends=slug)
        amendment = workflow.create(s, APPLICANT, content(members=("cato@uni.example",),
                                    ask={"national_id": ("pseudonymise", "link"), "days": ("keep", "outcome")}), amends=slug)
        workflow.submit(s, APPLICANT, amendment.id)
        amendment_id = amendment.id
    for who in (OWNER, DPO, CONTROLLER):
        with session_scope(factory) as s:
            workflow.decide(s, who, amendment_id, "approve")
    with session_scope(factory) as s:
        done = provision(s, amendment_id, master_key=key, var_dir=var)
        assert "rebuilt extracts" in done
        project = s.execute(select(Project).where(Project.slug == slug)).scalar_one()
        assert {m.username for m in project.members} == {"alma", "bo", "cato"}
        assert {c.column_name for c in project.entitlements[0].columns} == {"national_id", "days"}
    assert list(pd.read_parquet(var / "projects" / slug / "data" / "sick-leave.parquet").columns) == ["national_id", "days"]


def test_a_lead_removed_from_the_project_neither_submits_nor_gets_back_in_by_an_amendment(factory, tmp_path):
    """An amendment drafted (or submitted) while its applicant led the project: once an admin removed
    them, submitting it is refused, and an approval of the one already submitted provisions nothing
    (it would have put the former lead back as lead)."""
    from provisioning import projects
    from provisioning.errors import ProvisioningError

    var, key = tmp_path / "var", os.urandom(32)
    first = approved(factory)
    with session_scope(factory) as s:
        provision(s, first, master_key=key, var_dir=var)
        slug = s.get(Application, first).project_slug
    wider = {"national_id": ("pseudonymise", "link"), "days": ("keep", "outcome"), "gender": ("keep", "compare"),
             "diagnosis_group": ("keep", "cause")}
    with session_scope(factory) as s:
        draft = workflow.create(s, APPLICANT, content(ask=wider), amends=slug).id
        pending = workflow.create(s, APPLICANT, content(ask=wider), amends=slug)
        workflow.submit(s, APPLICANT, pending.id)
        pending = pending.id
    with session_scope(factory) as s:
        projects.add_member(s, slug, "bo", "lead", actor="anne")
        projects.remove_member(s, slug, "alma", actor="anne", reason="left the project")
    with session_scope(factory) as s, pytest.raises(workflow.NotAllowed):
        workflow.submit(s, APPLICANT, draft)
    assert _state(factory, draft) == "draft"
    for who in (OWNER, DPO, CONTROLLER):
        with session_scope(factory) as s:
            workflow.decide(s, who, pending, "approve")
    with session_scope(factory) as s, pytest.raises(ProvisioningError):
        provision(s, pending, master_key=key, var_dir=var)
    with session_scope(factory) as s:
        project = s.execute(select(Project).where(Project.slug == slug)).scalar_one()
        assert {m.username: m.role.value for m in project.members} == {"bo": "lead"}


# -------------------------------------------------------------------------------------- notices


def test_notices_go_to_the_next_decision_makers_and_the_applicant_over_smtp(factory):
    from provisioning.applications.sender import send_due
    from tests.unit.egress.notify_servers import SmtpServer

    with SmtpServer() as smtp:
        pol = ApplicationsPolicy.model_validate({
            "version": 1, "portal_url": "https://soknad.example",
            "notifications": {"enabled": True, "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "soknad@example"}}})
        factory.kw["info"] = {notices.SESSION_KEY: pol}
        app_id = submitted(factory, members=("bo@uni.example", DPO.email))
        with session_scope(factory) as s:
            workflow.decide(s, OWNER, app_id, "approve")
        with session_scope(factory) as s:
            # the DPO is a party (named member): nobody else holds the role, so nobody is asked
            assert notices.next_deciders(s, s.get(Application, app_id), AppState.DPO_ASSESSMENT) == {}
        assert send_due(factory, pol.notifications) == 3
        assert send_due(factory, pol.notifications) == 0  # sent once
        got = {(m["to"][0], m["subject"]) for m in smtp.mailbox.received}
        number = app_id[:8]
        assert got == {(OWNER.email, f"Application {number}: waiting for you"),
                       (APPLICANT.email, f"Application {number}: submitted"),
                       (APPLICANT.email, f"Application {number}: dpo assessment")}
        assert any("waits for the data protection officer" in m["body"] for m in smtp.mailbox.received)
        assert not any(to == DPO.email for to, _ in got)
        assert all(f"https://soknad.example/applications/{app_id}" in m["body"] for m in smtp.mailbox.received)
        assert all("diagnosis" not in m["body"] for m in smtp.mailbox.received)  # no content in mail
    with session_scope(factory) as s:
        assert s.execute(select(func.count()).select_from(ApplicationNotice).where(ApplicationNotice.sent_at.is_(None))).scalar_one() == 0


def test_provisioning_invites_the_named_members_and_tells_the_applicant(factory, tmp_path):
    from provisioning.applications.sender import send_due
    from tests.unit.egress.notify_servers import SmtpServer

    with SmtpServer() as smtp:
        pol = ApplicationsPolicy.model_validate({
            "version": 1, "portal_url": "https://soknad.example",
            "notifications": {"enabled": True, "smtp": {"host": "127.0.0.1", "port": smtp.port}}})
        app_id = approved(factory, members=("bo@uni.example", "ADA@Uni.Example"))
        factory.kw["info"] = {notices.SESSION_KEY: pol}
        with session_scope(factory) as s:
            provision(s, app_id, master_key=os.urandom(32), var_dir=tmp_path / "var")
            slug = s.get(Application, app_id).project_slug
            # new people are registered as researchers, so the Keycloak sync creates their accounts
            assert {p.username: p.email for p in s.execute(select(perm.Person).where(perm.Person.username.in_(["bo", "ada"]))).scalars()} == {
                "bo": "bo@uni.example", "ada": "ada@uni.example"}
        assert send_due(factory, pol.notifications) == 3
        got = {(m["to"][0], m["subject"]) for m in smtp.mailbox.received}
        assert got == {("bo@uni.example", f"You are invited to the research project {slug}"),
                       ("ada@uni.example", f"You are invited to the research project {slug}"),
                       (APPLICANT.email, f"Application {app_id[:8]}: provisioned")}


def test_dataset_owners_are_named_with_the_cli_and_audited(factory, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from provisioning.applications import owners
    from provisioning.cli import app as cli

    url = str(factory.kw["bind"].url)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", url, "--actor", "anne", "dataset", "owner", "staff", "Olav", "--reason", "new head of HR"])
    assert r.exit_code == 0, r.output
    assert "owners oda, olav" in r.output
    r = runner.invoke(cli, ["--db", url, "dataset", "owner", "nosuch", "olav"])
    assert r.exit_code == 1 and "nothing was changed" in r.output
    with session_scope(factory) as s:
        assert owners.owners(s, "staff") == ["oda", "olav"]
        (event,) = [e for e in audit.events(s, "dataset", "staff") if e.action == "dataset.owner_add" and "olav" in e.detail]
        assert event.actor == "anne"
        assert owners.remove_owner(s, "staff", "olav", actor="anne") and owners.owners(s, "staff") == ["oda"]


def test_the_dpo_decision_records_what_the_pre_assessment_and_dpia_draft_were(factory, monkeypatch):
    from provisioning.applications import hooks

    app_id = submitted(factory)
    with session_scope(factory) as s:
        workflow.decide(s, OWNER, app_id, "approve")
    # a hook (prepared.py wires the real draft); a known draft shows the event holds the hash of that draft
    draft = "# DPIA for this application\n"
    monkeypatch.setattr(hooks, "dpia_markdown", lambda session, app: draft)
    with session_scope(factory) as s:
        workflow.decide(s, DPO, app_id, "approve", "DPIA completed")
        (event,) = [json.loads(e.detail) for e in audit.events(s, "application", app_id) if e.action == "application.dpo_approve"]
    assert event["assessment"] == hooks.NOT_COMPUTED
    assert event["dpia_sha256"] == hashlib.sha256(draft.encode()).hexdigest()


def test_an_extract_below_k_holds_the_project_until_an_admin_accepts_the_risk(factory, tmp_path):
    from provisioning import lifecycle

    var, key = tmp_path / "var", os.urandom(32)
    risky = {"national_id": ("pseudonymise", "link"), "unit": ("keep", "which unit"), "job_title": ("keep", "which job"),
             "gender": ("keep", "gender"), "days": ("keep", "outcome")}
    app_id = approved(factory, ask=risky)
    with session_scope(factory) as s:
        done = provision(s, app_id, master_key=key, var_dir=var)
        app = s.get(Application, app_id)
        assert done[-1].startswith("held") and app.state == "approved" and "override" in app.provision_error
        project = s.execute(select(Project).where(Project.slug == app.project_slug)).scalar_one()
        assert project.status.value == "approved" and project.extracts[0].min_k < 5  # its risk report is there
        slug = project.slug
    with session_scope(factory) as s:
        lifecycle.record_risk_override(s, slug, "sick-leave", actor="anne", reason="units are the purpose; checked by the DPO")
    with session_scope(factory) as s:
        provision(s, app_id, master_key=key, var_dir=var)
        assert s.get(Application, app_id).state == "provisioned"
    assert _events(factory, app_id)[-2:] == ["application.provision_held", "application.provision"]


def test_the_state_diagram_in_the_docs_is_the_table():
    from pathlib import Path

    from provisioning.applications.states import mermaid

    doc = (Path(__file__).resolve().parents[3] / "provisioning" / "applications" / "states.md").read_text()
    assert mermaid() in doc, "regenerate provisioning/applications/states.md from states.mermaid()"
