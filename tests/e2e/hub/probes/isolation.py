# Runs INSIDE a sandbox container (docker exec -i C python3 - < isolation.py). Arguments come as JSON
# in PROBE_ARGS; the result is one JSON line. Every address probed belongs to the test: the test's
# own target network, the host listener the test opened, or another test container.
import errno
import json
import os
import socket

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
out = {}


def connect(host, port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, int(port)))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        s.close()


# (a) /data is read-only
try:
    with open("/data/planted.txt", "w") as fh:
        fh.write("x")
    out["write_data"] = "written"
except OSError as exc:
    out["write_data"] = errno.errorcode.get(exc.errno, str(exc.errno))
out["data_files"] = sorted(os.listdir("/data"))

# (b) user and capabilities
out["uid"] = os.getuid()
out["euid"] = os.geteuid()
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
out["cap_eff"] = status["CapEff"].strip()
out["cap_prm"] = status["CapPrm"].strip()
out["cap_bnd"] = status["CapBnd"].strip()
out["no_new_privs"] = status.get("NoNewPrivs", "").strip()

# (c) other project's data
out["other_paths_exist"] = [p for p in args.get("other_paths", []) if os.path.exists(p)]

# (d) no default route, and the test's own target network is unreachable
routes = [line.split() for line in open("/proc/net/route").read().splitlines()[1:]]
out["default_routes"] = [r for r in routes if r[1] == "00000000"]
if args.get("target"):
    out["target"] = connect(*args["target"])

# (d2) a host listener is not reachable, the hub API port is
if args.get("gateway"):
    out["host_listener"] = connect(args["gateway"], args["host_port"])
    out["hub_api"] = connect(args["gateway"], args["hub_port"])

# (e) another project's notebook container
if args.get("other_container"):
    out["other_container"] = connect(args["other_container"], 8888)

# (g) no Docker socket
out["docker_sock"] = [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)]

# the researcher's config cannot be written where the server reads it
out["config_dir"] = os.environ.get("JUPYTER_CONFIG_DIR")
out["config_dir_writable"] = os.access(os.environ.get("JUPYTER_CONFIG_DIR", "/"), os.W_OK)
out["home_writable"] = os.access(os.path.expanduser("~"), os.W_OK)
try:
    open("/etc/planted", "w").close()
    out["rootfs"] = "writable"
except OSError as exc:
    out["rootfs"] = errno.errorcode.get(exc.errno, str(exc.errno))
print(json.dumps(out))
