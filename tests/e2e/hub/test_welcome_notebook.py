"""The generated Welcome.ipynb runs top to bottom in a real sandbox: the hub spawns the notebook image
for a project provisioned like the demo's (synthetic register and episodes, real pseudonymised
extracts), the notebook is executed there by Jupyter's own executor (nbclient, through
``jupyter nbconvert --execute``, with the sandbox's kernel, data mount, network and egress token), and
its export lands in the egress queue under its meaningful name with the verdicts the notebook printed."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from sqlalchemy import select

from hubtest import RUN

pytestmark = pytest.mark.e2e

EXPORT_NAME = "sick_leave_pct_by_service_area_and_year.csv"


def execute_in_sandbox(container: str, notebook: str = "Welcome.ipynb", timeout: int = 240) -> dict:
    """Run every cell of ``notebook`` in ``container`` as the researcher; returns the executed notebook."""
    run = subprocess.run(
        ["docker", "exec", container, "jupyter", "nbconvert", "--to", "notebook", "--execute",
         f"--ExecutePreprocessor.timeout={timeout}", "--output-dir", "/tmp", "--output", "executed", notebook],
        capture_output=True, text=True, timeout=timeout + 60,
    )
    assert run.returncode == 0, f"the notebook did not run top to bottom:\n{run.stderr[-4000:]}"
    out = subprocess.run(["docker", "exec", container, "cat", "/tmp/executed.ipynb"], capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def cell_text(cell: dict) -> str:
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", [])))
        data = o.get("data", {}).get("text/plain", "")
        parts.append(data if isinstance(data, str) else "".join(data))
    return "".join(parts)


def test_welcome_notebook_runs_in_the_sandbox_and_its_export_is_queued(hub, provisioner):
    user = f"wendy{RUN}"
    slug = provisioner.sick_leave_project("welcome", {user: "researcher"})
    container = hub.start_server(user, slug)
    try:
        executed = execute_in_sandbox(container)
    finally:
        hub.stop_server(user, slug)
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    last = cell_text(code[-1])
    printed = dict(re.findall(r"^(\S+\.csv): (pass|review|fail|pending)$", last, flags=re.M))
    assert list(printed) == [EXPORT_NAME], last
    request_id = re.search(r"Release request (\S+): submitted", last).group(1)
    # the per-cell verdict and the protected version were shown
    shown = "\n".join(cell_text(c) for c in code)
    assert "service_area" in shown and "year" in shown

    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == request_id)).scalar_one()
        assert (req.project, req.requester, req.state) == (slug, user, "submitted")  # in the checkers' queue
        files = s.execute(
            select(RequestFile.name, FileVersion.verdict).join(FileVersion, FileVersion.file_id == RequestFile.id)
            .where(RequestFile.request_id == request_id)
        ).all()
    # the protected table was exported: it passes the service's own checks, as the notebook printed
    assert [(n, v) for n, v in files] == [(EXPORT_NAME, printed[EXPORT_NAME])] == [(EXPORT_NAME, "pass")]
