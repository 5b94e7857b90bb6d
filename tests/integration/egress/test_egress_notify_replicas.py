"""Two sender replicas on the real PostgreSQL (issue 16.1): both read the same due messages before either
claims them, and still each message is sent once, because the claim is a conditional UPDATE that only
one replica wins. (SQLite takes its write lock before the read, so the race cannot happen there.)"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from egress_review.states import RequestState
from tests.unit.egress.notify_servers import SmtpServer
from tests.unit.egress.test_egress_notify import _make, send

pytestmark = pytest.mark.integration


def test_replicas_reading_the_same_rows_send_each_once(tmp_path, database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serialises the read with the write: no race to show")
    with SmtpServer() as smtp:
        env = _make(tmp_path, smtp, None, database_url=database_url)
        try:
            for _ in range(3):
                env.make_request(RequestState.SUBMITTED)
            both_read = threading.Barrier(2)
            paused = threading.local()

            def hold_after_first_read(conn, cursor, statement, *args):
                # each replica stops after its first look at the outbox until the other has looked too
                if statement.lstrip().upper().startswith("SELECT") and "egress_outbox" in statement \
                        and not getattr(paused, "done", False):
                    paused.done = True
                    both_read.wait(timeout=20)

            event.listen(env.svc.engine, "after_cursor_execute", hold_after_first_read)
            errors: list[BaseException] = []

            def replica():
                try:
                    send(env)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=replica) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            event.remove(env.svc.engine, "after_cursor_execute", hold_after_first_read)
            assert not errors, errors
            assert not both_read.broken  # both really read before either claimed
            ids = [m["message_id"] for m in smtp.mailbox.received]
            assert len(ids) == 6 and len(set(ids)) == 6, ids
        finally:
            env.svc.close()
