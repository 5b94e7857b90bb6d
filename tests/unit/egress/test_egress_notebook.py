"""The notebook an output was made with: attached by request_export as a supporting file that never
leaves, shown as code to those who may read content, and (policy) re-run before review. The re-run
in a real container is tested in tests/integration/egress/test_egress_notebook_reexecution.py."""

from __future__ import annotations

import base64
import re
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from egress_review import review, submission
from egress_review.client import ExportError, request_export, running_notebook
from egress_review.errors import Conflict
from egress_review.notebooks.code import cells, code_only
from egress_review.notebooks.container import parse_result
from egress_review.notebooks.models import DONE, NotebookRun
from egress_review.notebooks.runner import MARKER
from egress_review.policy import NotebookPolicy
from egress_review.quarantine.intake import IntakeError
from egress_review.states import FileKind, RequestState, VoteDecision
from tests.unit.egress.egress_factories import SAFE_CSV, checker, researcher
from tests.unit.egress.test_egress_client import live  # noqa: F401 - the service over loopback HTTP

pytestmark = pytest.mark.unit

SCRIPT = "<script>alert('x')</script>"


def notebook(*sources: str, outputs: list | None = None) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"secret": "hidden in metadata"},
                       "cells": [{"cell_type": "code", "metadata": {}, "execution_count": i + 1,
                                  "outputs": outputs or [], "source": s} for i, s in enumerate(sources)]}).encode()


NB = notebook("import pandas as pd\nt = pd.read_csv('/data/x.csv')", f"# {SCRIPT}\nrequest_export('t.csv', 'c', 'k')",
              outputs=[{"output_type": "display_data", "data": {"text/html": "<img src=x onerror=alert(1)>",
                                                                 "text/plain": "ROW-FROM-THE-DATA"}, "metadata": {}}])


def _supporting(req) -> list:
    return [f for f in req.files if f.kind == FileKind.SUPPORTING]


# ------------------------------------------------------------------------------------ request_export


def test_request_export_attaches_the_running_notebook_as_it_was_at_export(env, live, tmp_path, monkeypatch):
    nb = tmp_path / "analysis.ipynb"
    nb.write_bytes(NB)
    monkeypatch.setattr(sys.modules["__main__"], "__session__", str(nb), raising=False)
    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)  # a plain file: no sidecar, so nothing can make it again from the data
    result = request_export([table], context="days by district", controls="n >= 10", show=False)
    nb.write_bytes(notebook("changed after the export"))
    [f] = _supporting(env.get(result.request_id))
    v = f.current_version
    assert (f.name, v.detected_type) == ("analysis.ipynb", "ipynb")
    stored = b"".join(env.svc.store.read(v.blob, v.id, v.wrapped_key))
    assert json.loads(stored) == json.loads(NB)  # the rebuild re-serialises the JSON, the content is the same
    assert [r.name for r in result.files] == ["t.csv"]  # the notebook gets no verdict line: it is no output


def test_the_notebook_is_found_from_jpy_session_name_relative_to_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "a.ipynb").write_bytes(NB)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delattr(sys.modules["__main__"], "__session__", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "work/a.ipynb")
    assert running_notebook() == tmp_path / "work" / "a.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", "work/missing.ipynb")
    assert running_notebook() is None


def test_replayable_tables_attach_no_notebook_and_a_missing_notebook_is_explained(env, live, tmp_path, monkeypatch,
                                                                                 capsys):
    from egress_review import sdc
    from egress_review.checks.policy import DisclosurePolicy

    extract = tmp_path / "extract.csv"
    pd.DataFrame({"person": range(600), "bydel": ["Grefsen", "Sagene", "Frogner"] * 200,
                  "kjonn": ["K", "M"] * 300}).to_csv(extract, index=False)
    nb = tmp_path / "analysis.ipynb"
    nb.write_bytes(NB)
    monkeypatch.setattr(sys.modules["__main__"], "__session__", str(nb), raising=False)
    df = sdc.read_extract(extract)
    r = sdc.crosstab(df.bydel, df.kjonn, entity=df.person, policy=DisclosurePolicy())
    assert r.replay is not None
    done = request_export({"counts.csv": r}, context="people by district", controls="sdc", show=False)
    assert _supporting(env.get(done.request_id)) == []

    monkeypatch.delattr(sys.modules["__main__"], "__session__")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)
    request_export([table], context="days", controls="n >= 10")
    assert "no notebook was attached" in capsys.readouterr().out
    with pytest.raises(ExportError, match="pass notebook="):
        request_export([table], context="days", controls="n >= 10", notebook=True, show=False)
    with pytest.raises(ExportError, match="not a notebook file"):
        request_export([table], context="days", controls="n >= 10", notebook=tmp_path / "t.csv", show=False)


def test_in_a_reexecution_container_request_export_writes_the_files_and_sends_nothing(tmp_path, monkeypatch):
    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("SANDKASSE_REEXECUTION_OUT", str(out))
    monkeypatch.delenv("SANDKASSE_EGRESS_URL", raising=False)
    result = request_export({"days.csv": table}, context="c", controls="k", show=False)
    assert result.state == "re-executed" and (out / "days.csv").read_text() == SAFE_CSV


# ----------------------------------------------------------------------------- quarantine and release


def test_a_notebook_is_a_supporting_file_only(env):
    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    with pytest.raises(IntakeError, match="a notebook never leaves"):
        env.store_file(alice, req_id, "analysis.ipynb", NB)
    with pytest.raises(IntakeError, match="not a Jupyter notebook"):
        env.store_file(alice, req_id, "fake.ipynb", b'{"rows": [1, 2, 3]}', kind=FileKind.SUPPORTING)


def test_the_notebook_never_leaves_in_a_release(env):
    from egress_review.release.release import release

    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    for name in ("chris", "cora"):
        env.vote_all(req_id, name, VoteDecision.APPROVE)
        env.act(lambda s, r, n=name: review.submit_review(s, env.svc.audit, env.svc.policy, checker(n), r), req_id)
    env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    rel = env.act(lambda s, r: release(s, env.svc.audit, env.svc.store, env.svc.signer, env.svc.release_dir, r), req_id)
    folder = env.svc.release_dir / "alpha" / rel.id
    everything = [p for p in folder.rglob("*") if p.is_file()]
    assert "table.csv" in {p.name for p in everything}
    assert not [p for p in everything if p.suffix == ".ipynb"]
    for p in everything:  # neither the file nor its content, nor its name in the manifest or the ACRO record
        data = p.read_bytes()
        assert b"analysis.ipynb" not in data and b"read_csv('/data/x.csv')" not in data, p.name


# ----------------------------------------------------------------------------------------- View code


def _web_client(env):
    from tests.unit.web.test_web_ui import _client

    return _client(env)


def test_view_code_shows_the_cells_escaped_to_checkers_only(env):
    from tests.unit.web.test_web_ui import _login

    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    with _web_client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req_id}").text
        assert "View code" in page and "pd.read_csv(&#39;/data/x.csv&#39;)" in page
        assert SCRIPT not in page and "&lt;script&gt;alert(" in page  # shown as text, never run
        # outputs and metadata are counted, never shown: they can carry rows and script
        assert "ROW-FROM-THE-DATA" not in page and "onerror" not in page and "hidden in metadata" not in page
        assert "1 output(s) not shown" in page
        _login(c, "alice", ["researcher"])  # the requester through a Keycloak login: metadata only
        page = c.get(f"/requests/{req_id}").text
        assert "analysis.ipynb" in page and "View code" not in page and "read_csv" not in page
    with env.svc.sessions() as s:
        from sqlalchemy import select

        from egress_review.models import EgressAuditEvent

        vias = [json.loads(e.detail).get("via") for e in s.execute(
            select(EgressAuditEvent).where(EgressAuditEvent.action == "file.read")).scalars()]
    assert "web code view" in vias


# ------------------------------------------------------------------------------- re-execution policy


def test_votes_wait_for_the_reexecution_the_policy_asks_for(env):
    env.svc.policy = env.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True)})
    from egress_review.notebooks.worker import schedule

    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    with pytest.raises(Conflict, match="re-run before review"):
        env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    assert schedule(env.svc) == 1 and schedule(env.svc) == 0  # one run per turn
    with pytest.raises(Conflict, match="re-run before review"):
        env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    with env.svc.sessions() as s:
        from sqlalchemy import select

        run = s.execute(select(NotebookRun)).scalar_one()
        run.status = DONE
        s.commit()
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)  # now it may be reviewed

    env.svc.policy = env.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=False)})
    other = env.make_request(RequestState.DRAFT)
    env.store_file(alice, other, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), other)
    env.vote_all(other, "chris", VoteDecision.APPROVE)  # without the policy nothing waits


# --------------------------------------------------------------------- the container's word is hostile


def test_code_only_keeps_the_code_and_drops_outputs_and_metadata():
    slim = json.loads(code_only(NB))
    assert [c["source"] for c in slim["cells"]] == [c.source for c in cells(NB)]
    assert all(c["outputs"] == [] for c in slim["cells"]) and "secret" not in json.dumps(slim)


def test_the_containers_result_is_parsed_as_hostile_input():
    def line(obj) -> bytes:
        return (MARKER + json.dumps(obj)).encode()

    b64 = base64.b64encode(b"a,b\n1,2\n").decode()
    # a forged line printed earlier by the notebook is overridden by the runner's last one
    r = parse_result(line({"ran": True, "files": {"t.csv": "Zm9yZ2Vk"}}) + b"\n" + line({"ran": True, "files": {"t.csv": b64}}), 1000)
    assert r.ran and r.files == {"t.csv": b"a,b\n1,2\n"}
    r = parse_result(line({"ran": True, "files": {"../../etc/passwd": b64, "/abs": b64, "ok.csv": "!!not base64!!"}}), 1000)
    assert r.files == {} and set(r.skipped) == {"../../etc/passwd", "/abs", "ok.csv"}
    r = parse_result(line({"ran": True, "files": {"big.csv": base64.b64encode(b"x" * 2000).decode()}}), 1000)
    assert r.files == {} and r.skipped == {"big.csv": "over the size limit"}
    assert not parse_result(b"printed forever, then killed", 1000).ran
    assert not parse_result(line([1, 2]), 1000).ran
    r = parse_result(line({"ran": False, "error": "x" * 10000}), 1000)
    assert not r.ran and len(r.error) <= 4000


def test_the_worker_never_opens_a_path_the_container_named(env, tmp_path):
    """The files come back as bytes; the compare step writes them to a fresh name of its own
    (``O_EXCL|O_NOFOLLOW``), so a name the container chose never reaches the host's file system."""
    from egress_review.notebooks import compare

    before = set(env.svc.store.scratch.iterdir())
    status, _ = compare.compare(env.svc, "../../../../etc/t.csv", "csv", "0" * 64, SAFE_CSV.encode())
    assert status == compare.MISMATCH and set(env.svc.store.scratch.iterdir()) == before
    assert not Path("/etc/t.csv").exists()


def test_closing_the_project_forgets_the_reexecution_failure_text(env):
    from sqlalchemy import select

    from egress_review.closure import purge_closed_projects
    from egress_review.notebooks.models import FAILED
    from egress_review.notebooks.runs import reason_context
    from egress_review.notebooks.worker import schedule
    from tests.unit.egress.test_egress_closure import _close

    env.svc.policy = env.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True)})
    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    schedule(env.svc)
    with env.svc.sessions() as s:
        run = s.execute(select(NotebookRun)).scalar_one()
        run.status, run.reason_sealed = FAILED, env.svc.store.seal(reason_context(run.id), b"KeyError: ROW-FROM-THE-DATA")
        s.commit()
    _close(env, "alpha")
    purge_closed_projects(env.svc)
    with env.svc.sessions() as s:
        assert s.execute(select(NotebookRun)).scalar_one().reason_sealed is None


def test_the_cli_attaches_a_notebook_given_by_path(env, live, tmp_path):
    from egress_review.client.cli import main

    table = tmp_path / "t.csv"
    table.write_text(SAFE_CSV)
    nb = tmp_path / "made_with.ipynb"
    nb.write_bytes(NB)
    assert main([str(table), "--context", "days", "--controls", "n >= 10", "--notebook", str(nb)]) == 0
    with env.svc.sessions() as s:
        from sqlalchemy import select

        from egress_review.models import RequestFile

        names = {(f.name, f.kind) for f in s.execute(select(RequestFile)).scalars()}
    assert ("made_with.ipynb", "supporting") in names


def test_the_request_page_shows_each_outputs_reexecution_outcome(env):
    from sqlalchemy import select

    from egress_review.notebooks.runs import reason_context
    from egress_review.notebooks.worker import schedule
    from tests.unit.web.test_web_ui import _login

    env.svc.policy = env.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True)})
    req_id = env.make_request(RequestState.DRAFT, files={"a.csv": SAFE_CSV.encode(), "b.csv": SAFE_CSV.encode()})
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    schedule(env.svc)
    ids = {f.name: f.id for f in env.get(req_id).files}
    with _web_client(env) as c:
        _login(c, "chris", ["output-checker"])
        assert c.get(f"/requests/{req_id}").text.count("Re-execution: waiting to run") == 2
        with env.svc.sessions() as s:
            run = s.execute(select(NotebookRun)).scalar_one()
            run.status = DONE
            run.outcome = json.dumps({ids["a.csv"]: {"name": "a.csv", "status": "matches"},
                                      ids["b.csv"]: {"name": "b.csv", "status": "mismatch"}})
            run.reason_sealed = env.svc.store.seal(reason_context(run.id), json.dumps(
                {ids["b.csv"]: "the re-created b.csv differs"}).encode())
            s.commit()
        page = c.get(f"/requests/{req_id}").text
        assert "Re-executed: matches" in page
        assert re.search(r'class="reexecution reexec-mismatch sev-fail"[^>]*>Re-executed: does not match[^<]*: '
                         r'<span class="reexec-reason">the re-created b.csv differs', page)
        _login(c, "alice", ["researcher"])  # outside the sandbox: the outcome, not the reason
        page = c.get(f"/requests/{req_id}").text
        assert "Re-executed: does not match" in page and "the re-created b.csv differs" not in page
    # the reason may quote the data: the checker's read of it is audited, like the code view's
    with env.svc.sessions() as s:
        from egress_review.models import EgressAuditEvent

        reads = [(e.actor, json.loads(e.detail).get("via")) for e in s.execute(
            select(EgressAuditEvent).where(EgressAuditEvent.action == "file.read")).scalars()]
    assert ("chris", "web re-execution reason") in reads and ("alice", "web re-execution reason") not in reads


def test_a_request_that_leaves_the_notebook_out_is_marked_when_the_policy_asks_for_a_rerun(env):
    """Attack (malicious researcher): the client attaches the notebook, the service only re-runs one if it
    came; a request sent with ``notebook=False`` (or through the API) must not look like one that needs
    no re-run. The checkers see, beside each output the replay did not make, that nothing was re-run."""
    from tests.unit.web.test_web_ui import _login

    env.svc.policy = env.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True)})
    alice = researcher("alice", "alpha")
    bare = env.make_request(RequestState.DRAFT)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), bare)
    with_nb = env.make_request(RequestState.DRAFT)
    env.store_file(alice, with_nb, "analysis.ipynb", NB, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), with_nb)
    with _web_client(env) as c:
        svc = c.app.state.egress  # the page's own service: its policy asks for re-runs
        svc.policy = svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True)})
        _login(c, "chris", ["output-checker"])
        assert re.search(r'class="reexecution reexec-absent sev-fail"[^>]*>Not re-executed: no notebook came',
                         c.get(f"/requests/{bare}").text)
        assert "Not re-executed" not in c.get(f"/requests/{with_nb}").text
        svc.policy = svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=False)})
        assert "Not re-executed" not in c.get(f"/requests/{bare}").text  # no re-run asked for


def test_the_rerun_runs_no_code_the_checkers_view_leaves_out():
    """Attack (malicious researcher): "View code" showed the first 2,000 cells and said nothing of the rest,
    while the re-run took every code cell, so a cell 2,001 writing the submitted bytes from a literal made
    "matches" out of code no checker could see. Over the limit, neither shows nor runs. And code that
    reads otherwise than it runs (bidirectional overrides, zero-width characters) shows its hidden marks."""
    from egress_review.notebooks.code import MAX_CELLS, NotNotebook

    padded = notebook(*(["pass"] * MAX_CELLS), "open('/tmp/out/t.csv', 'w').write('a,b\\n1,2\\n')  # unseen")
    with pytest.raises(NotNotebook):
        cells(padded)
    with pytest.raises(NotNotebook):
        code_only(padded)
    assert len(cells(notebook(*(["pass"] * MAX_CELLS)))) == MAX_CELLS  # up to the limit, all of them
    trojan = notebook("access = 'user\u202e \u2066# admin only\u2069 \u2066'  # ok\nx\u200b = 1")
    shown = cells(trojan)[0].source
    assert "\u202e" not in shown and "\u2066" not in shown and "\u200b" not in shown
    assert "U+202E" in shown and "U+2066" in shown and "U+200B" in shown
    assert "\u202e" in json.loads(code_only(trojan))["cells"][0]["source"]  # the run gets the code as written
