# Runs INSIDE a sandbox: one name lookup through the container's resolver (Docker's embedded one),
# as an exfiltrating kernel would make it; prints the address or the error, and how long it took.
import json
import os
import socket
import time

name = json.loads(os.environ["PROBE_ARGS"])["name"]
t0 = time.monotonic()
try:
    result = socket.gethostbyname(name)
except OSError as exc:
    result = type(exc).__name__
print(json.dumps({"result": result, "seconds": round(time.monotonic() - t0, 2)}))
