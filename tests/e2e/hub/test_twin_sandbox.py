"""Issue 20.5 with real Docker: a submitted application's synthetic twin opens as the workspace
"app-<id>" in a sandbox of its own (same hardening, the twin folder read-only at /data, labelled
synthetic, NO egress token); after approval the same code runs unchanged in the new project's sandbox
on the real extract and sees the same column names, dtypes and category sets."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from hubtest import RUN
from provisioning import api as papi
from provisioning.applications import permissions as perm
from provisioning.applications import workflow
from provisioning.applications.prepared import NOISE_KEY, VAR_DIR_KEY, application_dir, workspace_of
from provisioning.applications.twin import twin_noise_key
from provisioning.applications.provision import provision
from sandkasse.db import session_scope
from sandkasse.keys import generate_key
from sandkasse.settings import get_settings
from tests.unit.provisioning.app_factories import CONTROLLER, DPO, OWNER, content, make_data, make_factory

pytestmark = pytest.mark.e2e

# the applicant's analysis: written on the twin, run unchanged on the approved extract
ANALYSIS = """
import json, pandas as pd
df = pd.read_parquet('/data/sick-leave.parquet')
summary = df.groupby('gender', observed=True)['days'].mean().round(1).to_dict()
print(json.dumps({'columns': list(df.columns), 'dtypes': {c: str(t) for c, t in df.dtypes.items()},
                  'categories': {c: sorted(map(str, df[c].cat.categories)) for c in df.columns
                                 if str(df[c].dtype) == 'category' and c != 'national_id'},
                  'groups': sorted(summary)}))
"""


def _run(container: str, code: str) -> dict:
    out = subprocess.run(["docker", "exec", container, "python3", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_applicant_develops_on_the_twin_and_the_same_code_runs_on_the_approved_extract(hub, provisioner, tmp_path):
    factory = make_factory(tmp_path, make_data(tmp_path / "synth"), provisioner.url)
    applicant = perm.Caller(f"twin{RUN}", frozenset({"applicant"}), f"twin{RUN}@uni.example")
    with session_scope(factory) as s:
        s.info[VAR_DIR_KEY] = str(get_settings().var_dir)  # as the portal's sessions carry them
        s.info[NOISE_KEY] = twin_noise_key(generate_key())
        app = workflow.create(s, applicant, content(title=f"Twin {RUN}", members=()))
        workflow.submit(s, applicant, app.id)  # builds the twin
        app_id = app.id
    workspace = workspace_of(app_id)
    provisioner.slugs.append(workspace)  # its network and volumes are removed with the others
    twin = papi.data_dir(workspace)
    try:
        assert (twin / "SYNTHETIC-TWIN.md").is_file()
        name = hub.start_server(applicant.username, workspace)
        box = hub.docker.containers.get(name)
        env = dict(e.split("=", 1) for e in box.attrs["Config"]["Env"])
        assert "SANDKASSE_EGRESS_TOKEN" not in env and env["SANDKASSE_SYNTHETIC"] == "1"
        mounts = {m["Destination"]: m for m in box.attrs["Mounts"]}
        assert mounts["/data"]["RW"] is False and mounts["/data"]["Source"] == str(twin)
        assert box.attrs["HostConfig"]["CapDrop"] == ["ALL"] and box.attrs["HostConfig"]["ReadonlyRootfs"] is True
        on_twin = _run(name, ANALYSIS)
        label = _run(name, "import json, pyarrow.parquet as pq; "
                           "print(json.dumps({'synthetic': b'sandkasse.synthetic' in (pq.read_schema('/data/sick-leave.parquet').metadata or {})}))")
        assert label == {"synthetic": True}
        # someone else may not open the applicant's twin
        with pytest.raises(Exception, match="403"):
            hub.start_server(f"other{RUN}", workspace, timeout=30)
        hub.stop_server(applicant.username, workspace)

        for who in (OWNER, DPO, CONTROLLER):
            with session_scope(factory) as s:
                workflow.decide(s, who, app_id, "approve", "fine")
        with session_scope(factory) as s:
            provision(s, app_id, by="conrad", master_key=generate_key())
            slug = workflow.get(s, app_id).project_slug
        provisioner.slugs.append(slug)
        project_box = hub.start_server(applicant.username, slug)
        on_real = _run(project_box, ANALYSIS)
        assert on_real == on_twin  # names, dtypes, category sets and the analysis' groups
        env = dict(e.split("=", 1) for e in hub.docker.containers.get(project_box).attrs["Config"]["Env"])
        assert env.get("SANDKASSE_EGRESS_TOKEN") and "SANDKASSE_SYNTHETIC" not in env
        hub.stop_server(applicant.username, slug)
    finally:
        shutil.rmtree(twin, ignore_errors=True)
        shutil.rmtree(application_dir(get_settings().var_dir, app_id), ignore_errors=True)
