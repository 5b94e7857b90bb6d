# Runs INSIDE a sandbox: the researcher's worked example. Read the extract, make a table with the sdc
# wrappers, send it to the egress queue with the project token the hub gave this server, then show
# that forged or foreign credentials are refused.
import json
import os

import pandas as pd

from egress_review.client import EgressClient, ExportError, request_export
from egress_review.sdc import pivot_table

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
out = {}
df = pd.read_parquet(f"/data/{args['extract']}")
result = pivot_table(df, index="service_area", columns="year", values="sick_leave_pct", aggfunc="mean", entity="employee_pseudonym")
out["summary"] = str(result.summary)
exported = request_export([result], context="Mean sick-leave percentage per service area and year",
                          controls="Cells count distinct employees (entity=)", show=False)
out["request_id"] = exported.request_id
out["state"] = exported.state
out["verdicts"] = [f.verdict for f in exported.files]
client = EgressClient()
out["me"] = client._http.get("/api/v1/me").json()
out["requests"] = client._http.get("/api/v1/requests").status_code
client.close()
for name, token in args.get("other_tokens", {}).items():
    try:
        other = EgressClient(token=token)
        resp = other._http.post("/api/v1/requests", json={"title": "not mine"})
        out[name] = resp.status_code
        other.close()
    except ExportError as exc:
        out[name] = str(exc)
print(json.dumps(out))
