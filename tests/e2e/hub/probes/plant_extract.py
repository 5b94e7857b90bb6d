# Runs INSIDE a sandbox: the bypass of issue 13. Copy the project's extract into files of two release
# requests (a draft that is never submitted, and a submitted one), as a researcher who hopes to read
# them back from outside the TRE. Then read one back from here, where that is allowed.
import hashlib
import json
import os
import shutil
from pathlib import Path

from egress_review.client import EgressClient

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
extract = Path("/data") / args["extract"]
notes, rows = Path("notes.txt"), Path("rows.csv")
shutil.copy(extract, notes)
shutil.copy(extract, rows)
Path("summary.csv").write_text("district,employees\nGrefsen,120\nSagene,340\nFrogner,415\n")
# Rows also go into the text the researcher writes: titles, contexts, controls and comments.
lines = iter(extract.read_text().splitlines()[1:])
out = {}
with EgressClient() as client:
    draft = client.create_request(title=next(lines))
    client.add_file(draft["id"], notes, kind="supporting", context=next(lines), controls=next(lines))
    submitted = client.create_request(title=next(lines))
    for path, kind in ((Path("summary.csv"), "output"), (rows, "output"), (notes, "supporting")):
        client.add_file(submitted["id"], path, kind=kind, context=next(lines), controls=next(lines))
    for rid in (draft["id"], submitted["id"]):
        client._call("POST", f"/api/v1/requests/{rid}/comments", json={"text": next(lines), "visibility": "shared"})
    out["state"] = client.submit(submitted["id"])["state"]
    out["requests"] = {}
    for rid in (draft["id"], submitted["id"]):
        d = client.wait_for_checks(rid, 60)
        out["requests"][rid] = [f["id"] for f in d["files"]]
    # Inside the sandbox the researcher may read their quarantined file back (project token).
    fid = next(f["id"] for f in client.request(draft["id"])["files"] if f["name"] == "notes.txt")
    back = client._http.get(f"/api/v1/requests/{draft['id']}/files/{fid}/content")
    out["inside_read_back"] = back.status_code == 200 and hashlib.sha256(back.content).hexdigest() == \
        hashlib.sha256(extract.read_bytes()).hexdigest()
out["draft"], out["submitted"] = draft["id"], submitted["id"]
# What one print() in the notebook shows the researcher's browser: the sandbox's own credential.
out["copied_token"] = os.environ["SANDKASSE_EGRESS_TOKEN"]
print(json.dumps(out))
