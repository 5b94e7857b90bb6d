"""Helpers of the welcome notebooks' end-to-end tests (Welcome.ipynb and its R twin Welcome-R.ipynb): run a
generated notebook top to bottom in a real sandbox with Jupyter's own executor, check it ran cleanly and
submitted its export, and read what the egress queue holds for that request. Each test keeps only what is
its own language's: the kernel, what the cells showed, the sidecar."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from sqlalchemy import select

from hubtest import Hub, Provisioner

# Both notebooks export the same table under the same meaningful name (hub.welcome_r follows hub.welcome).
EXPORT_NAME = "sick_leave_pct_by_service_area_and_year.csv"


def execute_in_sandbox(container: str, notebook: str, timeout: int = 240) -> dict:
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
    """What a code cell printed or displayed as text (streams and text/plain results)."""
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", [])))
        data = o.get("data", {}).get("text/plain", "")
        parts.append(data if isinstance(data, str) else "".join(data))
    return "".join(parts)


@dataclass
class WelcomeRun:
    executed: dict  # the executed notebook
    printed: dict[str, str]  # file name -> verdict, as the last cell printed them
    request_id: str
    shown: str  # the text of every code cell's output


def run_welcome(hub: Hub, user: str, slug: str, notebook: str) -> WelcomeRun:
    """Start ``user``'s server on ``slug``, run ``notebook`` there and stop the server; asserts that every code
    cell ran without an error and that the last one printed one verdict, for EXPORT_NAME, and a submitted
    release request."""
    container = hub.start_server(user, slug)
    try:
        executed = execute_in_sandbox(container, notebook)
    finally:
        hub.stop_server(user, slug)
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    last = cell_text(code[-1])
    printed = dict(re.findall(r"^(\S+\.csv): (pass|review|fail|pending)$", last, flags=re.M))
    assert list(printed) == [EXPORT_NAME], last
    submitted = re.search(r"Release request (\S+): submitted", last)
    assert submitted, last
    return WelcomeRun(executed, printed, submitted.group(1), "\n".join(cell_text(c) for c in code))


def queued_files(provisioner: Provisioner, run: WelcomeRun, slug: str, user: str) -> list[tuple[str, str, str | None]]:
    """(name, verdict, sidecar) of each file of the run's request; asserts the request is ``user``'s on
    ``slug`` and waits in the checkers' queue (submitted)."""
    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == run.request_id)).scalar_one()
        assert (req.project, req.requester, req.state) == (slug, user, "submitted")
        rows = s.execute(
            select(RequestFile.name, FileVersion.verdict, FileVersion.sidecar)
            .join(FileVersion, FileVersion.file_id == RequestFile.id).where(RequestFile.request_id == run.request_id)
        ).all()
    return [(name, verdict, sidecar) for name, verdict, sidecar in rows]
