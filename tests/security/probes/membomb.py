# Runs INSIDE a container: allocate and touch memory in 64 MiB steps up to LIMIT MiB (bounded). Under a
# memory limit the kernel kills this process long before; without one it stops at LIMIT.
import json
import os

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
held, step = [], 64 * 1024 * 1024
for i in range(int(args.get("limit_mib", 3072)) // 64):
    block = bytearray(step)
    for j in range(0, step, 4096):
        block[j] = 1
    held.append(block)
    print(json.dumps({"mib": (i + 1) * 64}), flush=True)
