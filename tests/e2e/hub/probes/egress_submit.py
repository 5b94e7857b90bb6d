# Runs INSIDE a sandbox: reaches the egress service with the credential the hub gave this server.
import json
import os

import httpx

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
url = os.environ["SANDKASSE_EGRESS_URL"].rstrip("/")
token = os.environ.get("SANDKASSE_EGRESS_TOKEN", "")
out = {"project": os.environ.get("SANDKASSE_PROJECT"), "user": os.environ.get("SANDKASSE_USER"), "has_token": bool(token)}
with httpx.Client(timeout=10, trust_env=False) as client:
    out["health"] = client.get(f"{url}{args.get('health_path', '/health')}").status_code
print(json.dumps(out))
