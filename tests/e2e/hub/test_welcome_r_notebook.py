"""The R twin of the welcome notebook (issue 17.3): written beside Welcome.ipynb because the notebook image
says it has R, it runs top to bottom with the R kernel in a real sandbox (Jupyter's own executor, the
sandbox's data mount, network and egress token), and its export lands in the egress queue under the same
meaningful name as the Python notebook's, with the verdict the notebook printed."""

from __future__ import annotations

import pytest

from hubtest import RUN
from welcometest import EXPORT_NAME, queued_files, run_welcome

pytestmark = pytest.mark.e2e


def test_welcome_r_runs_in_the_sandbox_and_its_export_is_queued(hub, provisioner):
    user = f"rolf{RUN}"
    slug = provisioner.sick_leave_project("welcome-r", {user: "researcher"})
    run = run_welcome(hub, user, slug, "Welcome-R.ipynb")
    assert run.executed["metadata"]["kernelspec"]["name"] == "ir"
    assert "service_area" in run.shown and "pass" in run.shown  # the table and its verdict were shown

    files = queued_files(provisioner, run, slug, user)
    # the protected table from R passes the service's own checks, as the notebook printed
    assert [(n, v) for n, v, _ in files] == [(EXPORT_NAME, run.printed[EXPORT_NAME])] == [(EXPORT_NAME, "pass")]
    assert all(sidecar for _, _, sidecar in files), "the R sidecar went with the table"
