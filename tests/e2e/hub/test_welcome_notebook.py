"""The generated Welcome.ipynb runs top to bottom in a real sandbox: the hub spawns the notebook image
for a project provisioned like the demo's (synthetic register and episodes, real pseudonymised
extracts), the notebook is executed there by Jupyter's own executor (nbclient, through
``jupyter nbconvert --execute``, with the sandbox's kernel, data mount, network and egress token), and
its export lands in the egress queue under its meaningful name with the verdicts the notebook printed."""

from __future__ import annotations

import pytest

from hubtest import RUN
from welcometest import EXPORT_NAME, queued_files, run_welcome

pytestmark = pytest.mark.e2e


def test_welcome_notebook_runs_in_the_sandbox_and_its_export_is_queued(hub, provisioner):
    user = f"wendy{RUN}"
    slug = provisioner.sick_leave_project("welcome", {user: "researcher"})
    run = run_welcome(hub, user, slug, "Welcome.ipynb")
    # the per-cell verdict and the protected version were shown
    assert "service_area" in run.shown and "year" in run.shown

    files = queued_files(provisioner, run, slug, user)  # in the checkers' queue
    # the protected table was exported: it passes the service's own checks, as the notebook printed
    assert [(n, v) for n, v, _ in files] == [(EXPORT_NAME, run.printed[EXPORT_NAME])] == [(EXPORT_NAME, "pass")]
