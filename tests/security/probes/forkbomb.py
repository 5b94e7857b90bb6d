# Runs INSIDE a container: fork until the kernel refuses (bounded by MAX), report the count, hold the
# children for HOLD seconds (so the test can check a neighbour meanwhile), then kill them all.
import errno
import json
import os
import signal
import sys
import time

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
MAX, HOLD = int(args.get("max", 2000)), float(args.get("hold", 6))
children, error = [], None
for _ in range(MAX):
    try:
        pid = os.fork()
    except OSError as exc:
        error = errno.errorcode.get(exc.errno, str(exc.errno))
        break
    if pid == 0:
        time.sleep(HOLD + 10)
        os._exit(0)
    children.append(pid)
print(json.dumps({"forked": len(children), "error": error}), flush=True)
time.sleep(HOLD)
for pid in children:
    os.kill(pid, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)
sys.exit(0)
