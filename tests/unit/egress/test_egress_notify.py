"""Notifications (issue 16.1): e-mail through a real SMTP server (aiosmtpd on loopback) and a chat webhook
(a loopback HTTP server), written to the outbox with the state change and sent at least once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from egress_review import review, submission
from egress_review.notify import outbox
from egress_review.notify.models import OutboxMessage
from egress_review.notify.sender import send_due
from egress_review.service import build_service
from egress_review.states import RequestState, VoteDecision
from tests.unit.egress.egress_factories import Env, checker, egress_settings, provision, researcher
from tests.unit.egress.notify_servers import SmtpServer, WebhookServer

pytestmark = pytest.mark.unit

PEOPLE = {
    "alice": ("alice@localhost", ["researcher"]),
    "chris": ("chris@localhost", ["output-checker"]),
    "cora": ("", ["output-checker"]),  # no address in provisioning: the policy's mapping has one
    "anna": ("anna@localhost", ["output-checker", "researcher"]),  # a member of alpha: never asked to review it
}


def _make(tmp: Path, smtp: SmtpServer, hook: WebhookServer | None, database_url: str | None = None,
          **notify) -> Env:
    settings = egress_settings(tmp, database_url)
    data = yaml.safe_load(settings.egress_policy_file.read_text())
    data["notifications"] = {
        "enabled": True, "base_url": "https://egress.test", "smtp": {"host": "127.0.0.1", "port": smtp.port,
                                                                    "sender": "sandkasse@egress.test"},
        "emails": {"cora": "cora@localhost"}, "lease_seconds": 60, "sweep_seconds": 0.2, **notify,
    }
    if hook is not None:
        data["notifications"]["webhook"] = {"url": hook.url}
    settings.egress_policy_file.write_text(yaml.safe_dump(data))
    provision(settings.effective_database_url)
    from provisioning import catalogue
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as s:
        for username, (email, roles) in PEOPLE.items():
            catalogue.upsert_person(s, username=username, email=email, roles=roles)
    engine.dispose()
    return Env(build_service(settings), settings)


@pytest.fixture
def servers():
    with SmtpServer() as smtp, WebhookServer() as hook:
        yield smtp, hook


@pytest.fixture
def env(tmp_path, servers):
    e = _make(tmp_path, *servers)
    yield e
    e.svc.close()


def send(env: Env) -> int:
    return send_due(env.svc.sessions, env.svc.policy.notifications)


def inbox(smtp: SmtpServer) -> list[tuple[str, str]]:
    return sorted((m["to"][0], m["subject"]) for m in smtp.mailbox.received)


def review_once(env: Env, req_id: str, name: str) -> None:
    env.vote_all(req_id, name, VoteDecision.APPROVE)
    env.act(lambda s, r: review.submit_review(s, env.svc.audit, env.svc.policy, checker(name), r), req_id)


def test_each_notice_reaches_the_right_person_once(env, servers):
    smtp, hook = servers
    req_id = env.make_request(RequestState.SUBMITTED)
    assert send(env) == 3  # chris, cora (address from the policy), the webhook; not anna (a member of alpha)
    assert inbox(smtp) == [("chris@localhost", "[Sandkasse] Release request waiting for review (alpha)"),
                           ("cora@localhost", "[Sandkasse] Release request waiting for review (alpha)")]
    assert f"https://egress.test/requests/{req_id}" in smtp.mailbox.received[0]["body"]

    review_once(env, req_id, "chris")
    assert send(env) == 2
    second = [m for m in smtp.mailbox.received if "second review" in m["subject"]]
    assert [m["to"] for m in second] == [["cora@localhost"]]  # the other checker, not the one who voted
    assert "approv" not in second[0]["body"].lower() and "chris" not in second[0]["body"]

    review_once(env, req_id, "cora")  # enough reviews: nobody else is asked
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, "round"), req_id)
    assert send(env) == 1
    assert inbox(smtp)[0] == ("alice@localhost", "[Sandkasse] Your release request returned (alpha)")
    assert "round" not in smtp.mailbox.received[-1]["body"]  # the checker's comment stays behind the login

    assert send(env) == 0  # the normal path sends nothing twice
    assert len(smtp.mailbox.received) == 4 and len({m["message_id"] for m in smtp.mailbox.received}) == 4
    assert [p["text"].splitlines()[0] for p in hook.posts] == [
        "[Sandkasse] Release request waiting for review (alpha)", "[Sandkasse] A second review is needed (alpha)"]


@pytest.mark.parametrize("state,word", [(RequestState.REJECTED, "rejected"), (RequestState.RELEASED, "released")])
def test_the_researcher_hears_of_the_decision(env, servers, state, word):
    smtp, _ = servers
    env.make_request(state)
    send(env)
    to_alice = [m["subject"] for m in smtp.mailbox.received if m["to"] == ["alice@localhost"]]
    assert to_alice == [f"[Sandkasse] Your release request {word} (alpha)"]


def test_a_state_change_rolled_back_leaves_no_notice(env, servers):
    smtp, _ = servers
    req_id = env.make_request(RequestState.DRAFT)
    with env.svc.sessions() as s:
        req = submission.get_request(s, req_id)
        submission.submit(s, env.svc.audit, researcher("alice", "alpha"), req)
        assert len(outbox.pending(s)) == 3  # written in the same transaction ...
        s.rollback()  # ... and gone with it
    with env.svc.sessions() as s:
        assert outbox.pending(s) == []
    assert send(env) == 0 and smtp.mailbox.received == []


def test_digest_preference_collects_a_checkers_notices(env, servers):
    smtp, _ = servers
    with env.svc.sessions() as s:
        outbox.set_mode(s, "cora", "digest")
        s.commit()
    env.make_request(RequestState.SUBMITTED)
    env.make_request(RequestState.SUBMITTED)
    send(env)
    assert [m["to"] for m in smtp.mailbox.received] == [["chris@localhost"]] * 2  # cora waits for her digest
    with env.svc.sessions() as s:  # the digest period ends
        s.execute(update(OutboxMessage).values(due_at=OutboxMessage.created_at))
        s.commit()
    assert send(env) == 2
    digest = [m for m in smtp.mailbox.received if m["to"] == ["cora@localhost"]]
    assert len(digest) == 1 and digest[0]["subject"] == "[Sandkasse] 2 notices"


def test_two_senders_at_once_send_each_message_once(env, servers):
    smtp, _ = servers
    for _ in range(3):
        env.make_request(RequestState.SUBMITTED)
    barrier = threading.Barrier(2)

    def run():
        barrier.wait(timeout=10)
        send(env)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [m["message_id"] for m in smtp.mailbox.received]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_sender_killed_between_sending_and_marking_loses_nothing(tmp_path):
    """A real sender process is killed with SIGKILL while the SMTP server holds its second message
    (accepted, not yet answered): the message was sent but never marked. Nothing is lost; the only
    duplicate is that one message, sent again when its lease runs out (the crash window)."""
    with SmtpServer() as smtp:
        env = _make(tmp_path, smtp, None, lease_seconds=2)
        try:
            for _ in range(3):
                env.make_request(RequestState.SUBMITTED)  # 6 messages committed; no sender has run yet
            proc_box: dict[str, subprocess.Popen] = {}
            killed: list[str] = []

            def kill_on_second(item: dict) -> None:
                if len(smtp.mailbox.received) == 2 and not killed:
                    killed.append(item["message_id"])
                    os.kill(proc_box["p"].pid, signal.SIGKILL)

            smtp.mailbox.on_data = kill_on_second
            proc_box["p"] = subprocess.Popen(
                [sys.executable, "-m", "egress_review.notify.sender", "--database-url",
                 env.settings.effective_database_url, "--policy", str(env.settings.egress_policy_file),
                 "--rounds", "1"], env=os.environ.copy())
            assert proc_box["p"].wait(timeout=60) == -signal.SIGKILL
            smtp.mailbox.on_data = None
            with env.svc.sessions() as s:
                rows = list(s.execute(select(OutboxMessage)).scalars())
            assert len(rows) == 6
            assert sum(r.sent_at is not None for r in rows) == 1  # only the first was marked
            assert len(smtp.mailbox.received) == 2
            assert send(env) == 0  # the dead sender's leases still hold: no replica takes them yet
            time.sleep(2.2)
            assert send(env) == 5  # after the lease: the unmarked one again, and the four never sent
            with env.svc.sessions() as s:
                assert all(r.sent_at is not None for r in s.execute(select(OutboxMessage)).scalars())
            ids = [m["message_id"] for m in smtp.mailbox.received]
            assert len(set(ids)) == 6  # nothing lost
            dupes = {i for i in ids if ids.count(i) > 1}
            assert dupes == set(killed) and len(ids) == 7  # one duplicate, from the crash window only
        finally:
            env.svc.close()


def test_the_service_sends_beside_the_api_and_users_set_their_preference(env, servers):
    from fastapi.testclient import TestClient

    from egress_review.app import create_app
    from tests.unit.egress.egress_factories import project_token

    smtp, _ = servers
    app = create_app(env.settings)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
        assert client.get("/api/v1/me/notifications", headers=headers).json()["mode"] == "immediate"
        assert client.put("/api/v1/me/notifications", json={"mode": "weekly"}, headers=headers).status_code == 422
        r = client.put("/api/v1/me/notifications", json={"mode": "digest"}, headers=headers)
        assert r.status_code == 200 and r.json() == {"username": "alice", "mode": "digest"}
        with env.svc.sessions() as s:
            assert outbox.mode_of(s, "alice") == "digest" and outbox.mode_of(s, "bob") == "immediate"
        env.make_request(RequestState.SUBMITTED)  # committed by another process's code path: the loop finds it
        deadline = time.monotonic() + 15
        while len(smtp.mailbox.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert inbox(smtp) == [("chris@localhost", "[Sandkasse] Release request waiting for review (alpha)"),
                           ("cora@localhost", "[Sandkasse] Release request waiting for review (alpha)")]


def test_mail_never_carries_the_title_written_in_the_sandbox(env, servers):
    """The title is researcher text from inside the sandbox (it can hold extract rows) and is hidden from
    every view outside it; mail leaves the TRE unreviewed, so no notice quotes it."""
    smtp, hook = servers
    rows = "pid_7f3a9c,Grefsen,F67,14;pid_11b2e0,Sagene,M54,3"
    req_id = env.make_request(RequestState.DRAFT)
    with env.svc.sessions() as s:
        req = submission.get_request(s, req_id)
        req.title = rows
        submission.submit(s, env.svc.audit, researcher("alice", "alpha"), req)
        s.commit()
    review_once(env, req_id, "chris")
    review_once(env, req_id, "cora")
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, "round"), req_id)
    assert send(env) >= 4  # waiting (2 mails and the hook), second review, returned
    sent = [m["subject"] + m["body"] for m in smtp.mailbox.received] + [p["text"] for p in hook.posts]
    assert {"waiting", "second review", "returned"} <= {w for w in ("waiting", "second review", "returned") for t in sent if w in t}
    assert not [t for t in sent if "pid_7f3a9c" in t or "Grefsen" in t]
    assert all(req_id[:8] in t for t in sent)
