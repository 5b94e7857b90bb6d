"""The replay as deployed (issue 16 item 3): the egress service as its own uvicorn process with a pool
of check workers; a wrapper-made table with a forged sidecar is uploaded through the API; a worker reads
the project's extract where provisioning keeps it, replays the table and the stored report follows the
replay. The service process itself never maps pandas, pyarrow or numpy: the replay is the workers'."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from egress_review import sdc
from egress_review.checks.policy import DisclosurePolicy
from tests.integration.egress.test_egress_memory import DATA_LIBRARIES
from tests.unit.checks.test_sdc_wrappers import sick_leave
from tests.testbed.egress_process import egress_process
from tests.unit.egress.egress_factories import PROJECTS, egress_settings, project_token, provision

pytestmark = pytest.mark.integration


def test_check_workers_replay_a_forged_sidecar_from_the_extract(tmp_path: Path):
    settings = egress_settings(tmp_path, check_workers=1)
    provision(settings.effective_database_url, PROJECTS)
    data = settings.var_dir / "projects" / "alpha" / "data"  # provisioning.api.extract_dir("alpha")
    data.mkdir(parents=True)
    d = sick_leave()
    d.loc[(d.bydel == "Frogner") & (d.alder == "30-49"), "person"] = "p99999"
    d.loc[d.person == "p99999", "dager"] = 900.0
    d.to_parquet(data / "sykefravaer.parquet", index=False)
    # the researcher's side: a dominated sum exported unprotected, its contributions forged
    df = sdc.read_extract(data / "sykefravaer.parquet")
    r = sdc.crosstab(df.bydel, df.alder, values=df.dager, aggfunc="sum", entity=df.person, policy=DisclosurePolicy())
    table, side = r.export(tmp_path / "sum.csv", protected=False)
    meta = json.loads(side.read_text())
    k = meta["row_labels"].index("Frogner") * meta["shape"][1] + meta["column_labels"].index("30-49")
    meta["cells"]["top"][k] = [meta["cells"]["total"][k] / 50] * len(meta["cells"]["top"][k])

    with egress_process(settings, tmp_path / "service.log") as (base, proc):
        h = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
        with httpx.Client(base_url=base, headers=h, timeout=60) as c:
            rid = c.post("/api/v1/requests", json={}).json()["id"]
            fid = c.post(f"/api/v1/requests/{rid}/files", json={
                "name": "sum.csv", "context": "sick days by district and age", "controls": "sdc wrappers",
                "sidecar": meta}).json()["id"]
            assert c.put(f"/api/v1/requests/{rid}/files/{fid}/content", content=table.read_bytes(),
                         headers={"Content-Type": "application/octet-stream"}).status_code == 200
            deadline = time.monotonic() + 60
            while True:
                report = c.get(f"/api/v1/requests/{rid}/files/{fid}/report").json()
                if report.get("verdict") != "pending":
                    break
                assert time.monotonic() < deadline, "the check never ran"
                time.sleep(0.3)
        assert report["replay"].startswith("reproduced from the data (bit-for-bit)"), report
        assert report["verdict"] == "fail"
        assert any(f["rule"] in ("nk", "p_percent") and (f["row"], f["column"]) == ("Frogner", "30-49")
                   for f in report["flags"])
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert not [lib for lib in DATA_LIBRARIES if f"/{lib}/" in maps], "the service loaded data libraries itself"
