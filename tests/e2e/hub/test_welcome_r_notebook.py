"""The R twin of the welcome notebook (issue 17.3): written beside Welcome.ipynb because the notebook image
says it has R, it runs top to bottom with the R kernel in a real sandbox (Jupyter's own executor, the
sandbox's data mount, network and egress token), and its export lands in the egress queue under the same
meaningful name as the Python notebook's, with the verdict the notebook printed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hubtest import RUN
from test_welcome_notebook import EXPORT_NAME, cell_text, execute_in_sandbox

pytestmark = pytest.mark.e2e


def test_welcome_r_runs_in_the_sandbox_and_its_export_is_queued(hub, provisioner):
    user = f"rolf{RUN}"
    slug = provisioner.sick_leave_project("welcome-r", {user: "researcher"})
    container = hub.start_server(user, slug)
    try:
        executed = execute_in_sandbox(container, "Welcome-R.ipynb")
    finally:
        hub.stop_server(user, slug)
    assert executed["metadata"]["kernelspec"]["name"] == "ir"
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    last = cell_text(code[-1])
    printed = dict(re.findall(r"^(\S+\.csv): (pass|review|fail|pending)$", last, flags=re.M))
    assert list(printed) == [EXPORT_NAME], last
    request_id = re.search(r"Release request (\S+): submitted", last).group(1)
    shown = "\n".join(cell_text(c) for c in code)
    assert "service_area" in shown and "pass" in shown  # the table and its verdict were shown

    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == request_id)).scalar_one()
        assert (req.project, req.requester, req.state) == (slug, user, "submitted")
        files = s.execute(
            select(RequestFile.name, FileVersion.verdict, FileVersion.sidecar)
            .join(FileVersion, FileVersion.file_id == RequestFile.id).where(RequestFile.request_id == request_id)
        ).all()
    # the protected table from R passes the service's own checks, as the notebook printed
    assert [(n, v) for n, v, _ in files] == [(EXPORT_NAME, printed[EXPORT_NAME])] == [(EXPORT_NAME, "pass")]
    assert all(sidecar for _, _, sidecar in files), "the R sidecar went with the table"
