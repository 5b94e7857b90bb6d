"""Re-execution of a request's notebook before review (``notebooks.reexecute``), in real containers of
the notebook image built from this checkout (the session's ``notebook_image``): an honest notebook
matches, a changed output does not, a broken notebook fails to run; the container is as locked in as
a sandbox (probed from inside) and what it hands back is never followed as a link."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from egress_review import submission
from egress_review.notebooks import runs
from egress_review.notebooks.container import NotebookContainer
from egress_review.notebooks.worker import container_for, run_once
from egress_review.policy import NotebookPolicy
from egress_review.states import FileKind
from hub.policy import security_policy
from tests.unit.egress.egress_factories import make_env, researcher

pytestmark = pytest.mark.e2e

EXPORT = ("t = pd.read_csv('/data/extract.csv').groupby('bydel').size().rename('n').reset_index()\n"
          "t.to_csv('/tmp/counts.csv', index=False)\n"
          "request_export({'counts.csv': '/tmp/counts.csv'}, context='people by district', controls='n')\n")


def notebook(*sources: str) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                  "source": s} for s in sources]}).encode()


HEAD = "import pandas as pd\nfrom egress_review.client import request_export"


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("extract")
    pd.DataFrame({"person": range(300), "bydel": ["Grefsen", "Sagene", "Frogner"] * 100}).to_csv(
        folder / "extract.csv", index=False)
    os.chmod(folder, 0o755)  # the sandbox user (uid 1000) reads it through the read-only bind mount
    os.chmod(folder / "extract.csv", 0o644)
    return folder


@pytest.fixture
def env(tmp_path):
    e = make_env(tmp_path)
    e.svc.policy = e.svc.policy.model_copy(update={"notebooks": NotebookPolicy(reexecute=True, timeout_seconds=120)})
    yield e
    e.svc.close()


def _submit(env, table: bytes, nb: bytes) -> tuple[str, str]:
    alice = researcher("alice", "alpha")
    with env.svc.sessions() as s:
        req = submission.create_request(s, env.svc.audit, alice)
        s.commit()
        rid = req.id
    fid = env.store_file(alice, rid, "counts.csv", table)
    env.store_file(alice, rid, "analysis.ipynb", nb, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), rid)
    return rid, fid


def _notes(env, rid: str, can_read: bool = True) -> dict:
    with env.svc.sessions() as s:
        out = runs.notes(s, env.svc.store, submission.get_request(s, rid), can_read)
        s.rollback()
    return out


def test_reexecution_matches_an_honest_output_and_catches_a_changed_one(env, extract, docker_client, notebook_image):
    honest = pd.read_csv(extract / "extract.csv").groupby("bydel").size().rename("n").reset_index()
    buf = io.StringIO()
    honest.to_csv(buf, index=False)
    edited = buf.getvalue().replace("Frogner,100", "Frogner,101")
    assert edited != buf.getvalue()
    ok, ok_file = _submit(env, buf.getvalue().encode(), notebook(HEAD, EXPORT))
    bad, bad_file = _submit(env, edited.encode(), notebook(HEAD, EXPORT))
    broken, broken_file = _submit(env, buf.getvalue().encode(), notebook(HEAD, "raise RuntimeError('no such column: ROW-42')"))
    assert _notes(env, ok) == {}  # nothing scheduled yet

    t0 = time.monotonic()
    done = run_once(env.svc, container_for(env.svc, docker_client.api, notebook_image), lambda project: extract)
    took = time.monotonic() - t0
    print(f"\nthree re-executions in {took:.1f} s")
    assert sorted(done.values()) == ["done", "done", "failed"]
    assert _notes(env, ok)[ok_file].status == "matches"
    mismatch = _notes(env, bad)[bad_file]
    assert mismatch.status == "mismatch" and "differs from the submitted one" in mismatch.reason
    failed = _notes(env, broken)[broken_file]
    assert failed.status == "failed" and "RuntimeError" in failed.reason and "ROW-42" in failed.reason
    # the reason may quote the notebook's output: only those who may read content get it
    assert _notes(env, broken, can_read=False)[broken_file].reason is None
    assert run_once(env.svc, container_for(env.svc, docker_client.api, notebook_image), lambda p: extract) == {}


PROBES = r"""
import os, socket
rows = []
def probe(name, fn):
    try:
        rows.append((name, str(fn())))
    except Exception as exc:
        rows.append((name, "refused " + type(exc).__name__))
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
probe("uid", os.getuid)
probe("cap_bnd", lambda: int(status["CapBnd"].strip(), 16))
probe("no_new_privs", lambda: status["NoNewPrivs"].strip())
probe("interfaces", lambda: "+".join(sorted(os.listdir("/sys/class/net"))))
probe("connect", lambda: socket.create_connection(("192.0.2.1", 80), timeout=2))
probe("write_data", lambda: open("/data/planted.csv", "w"))
probe("write_root", lambda: open("/etc/planted", "w"))
probe("write_home", lambda: open("/home/researcher/planted", "w"))
probe("docker_socket", lambda: os.path.exists("/var/run/docker.sock"))
probe("egress_token", lambda: "SANDKASSE_EGRESS_TOKEN" in os.environ)
probe("read_data", lambda: len(open("/data/extract.csv").read()) > 0)
def limit(*paths):
    for p in paths:
        if os.path.exists(p):
            return open(p).read().strip()
    return "unknown"
probe("pids_max", lambda: limit("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"))
probe("memory_max", lambda: limit("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
with open("/tmp/probes.csv", "w") as fh:
    fh.write("probe,result\n" + "".join(f"{n},{r}\n" for n, r in rows))
os.symlink("/etc/passwd", "/tmp/out/link.csv")       # a link where an output should be
os.mkfifo("/tmp/out/pipe.csv")                       # and a pipe that would block a reader
from egress_review.client import request_export
request_export({"probes.csv": "/tmp/probes.csv"}, context="c", controls="k")
"""


def test_the_reexecution_container_is_locked_in_like_a_sandbox(extract, docker_client, notebook_image):
    pol = security_policy()
    box = NotebookContainer(docker_client.api, notebook_image, pol, timeout_seconds=120)
    result = box.run(notebook(PROBES), extract)
    assert result.ran, result.error
    probes = dict(pd.read_csv(io.BytesIO(result.files["probes.csv"]), dtype=str).itertuples(index=False))
    print("\n" + json.dumps(probes, indent=1))
    assert probes["uid"] == str(pol.sandbox.uid)
    assert probes["cap_bnd"] == "0" and probes["no_new_privs"] == "1"
    assert probes["interfaces"] == "lo" and probes["connect"].startswith("refused")
    for p in ("write_data", "write_root", "write_home"):
        assert probes[p].startswith("refused"), p
    assert probes["docker_socket"] == "False" and probes["egress_token"] == "False" and probes["read_data"] == "True"
    assert probes["pids_max"] == str(pol.sandbox.pids)
    from docker.utils import parse_bytes

    assert probes["memory_max"] == str(parse_bytes(pol.sandbox.memory))
    # what the container wrote is handed back as bytes or not at all: a link or a pipe is never followed
    assert "link.csv" not in result.files and "pipe.csv" not in result.files
    assert set(result.skipped) >= {"link.csv", "pipe.csv"}
    assert not docker_client.containers.list(all=True, filters={"label": "org.sandkasse.role=notebook-reexecution"})


def test_a_notebook_that_runs_too_long_is_stopped(extract, docker_client, notebook_image):
    box = NotebookContainer(docker_client.api, notebook_image, security_policy(), timeout_seconds=8)
    t0 = time.monotonic()
    result = box.run(notebook("import time\ntime.sleep(600)"), extract)
    assert not result.ran and "did not finish within 8 s" in result.error
    assert time.monotonic() - t0 < 30
    assert not docker_client.containers.list(all=True, filters={"label": "org.sandkasse.role=notebook-reexecution"})


def test_control_removed_a_worker_reading_the_containers_folder_by_host_path_follows_a_planted_link(
        tmp_path, docker_client, notebook_image):
    """What handing the files back on standard output prevents: had the worker mounted a host folder
    for the outputs and read ``counts.csv`` from it, the notebook's link would hand it a host file."""
    secret = tmp_path / "host-secret"
    secret.write_text("a file of the host's, outside any container\n")
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    docker_client.containers.run(notebook_image, ["ln", "-s", str(secret), "/out/counts.csv"], entrypoint=[],
                                 user="1000:1000", network_mode="none", remove=True,
                                 volumes={str(out): {"bind": "/out", "mode": "rw"}})
    assert (out / "counts.csv").read_text() == secret.read_text()  # followed on the host
