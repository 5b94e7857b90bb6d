# Runs INSIDE a sandbox container (docker exec -i C python3 - < attacks.py) as the researcher. Arguments
# come as JSON in PROBE_ARGS; the result is one JSON line. Every address probed belongs to the test: the
# project network's gateway (a bridge the hub created for the test) and containers the test started.
import ctypes
import ctypes.util
import errno
import json
import os
import socket
import urllib.error
import urllib.request

args = json.loads(os.environ.get("PROBE_ARGS", "{}"))
out = {}


def err(exc):
    return errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)


def connect(host, port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, int(port)))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return err(exc)
    finally:
        s.close()


# /proc: which processes can we see, and does any environment we can read belong to someone else?
pids = [p for p in os.listdir("/proc") if p.isdigit()]
out["pids_visible"] = len(pids)
hits = []
for pid in pids:
    if int(pid) == os.getpid():
        continue  # this probe's own environment carries the markers in PROBE_ARGS
    try:
        env = open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        continue
    for marker in args.get("foreign_markers", []):
        if marker.encode() in env:
            hits.append([pid, marker])
out["foreign_env_hits"] = hits
out["host_pid1_root"] = sorted(os.listdir("/proc/1/root"))[:5] if os.access("/proc/1/root", os.R_OK) else "denied"
try:
    out["kcore"] = len(open("/proc/kcore", "rb").read(16))
except OSError as exc:
    out["kcore"] = err(exc)

# mount and namespaces
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
os.makedirs("/tmp/m", exist_ok=True)
rc = libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None)
out["mount_tmpfs"] = "mounted" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
rc = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)
out["unshare_userns"] = "unshared" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

# raw sockets
for name, family, kind, proto in (("raw_icmp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                                  ("packet", socket.AF_PACKET, socket.SOCK_RAW, 0x0003)):
    try:
        socket.socket(family, kind, proto).close()
        out[name] = "opened"
    except OSError as exc:
        out[name] = err(exc)

# DNS: only names of containers the test created; neither may resolve from this project's network
out["resolv_conf"] = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")]
out["resolve"] = {}
for name in args.get("names", []):
    try:
        out["resolve"][name] = sorted({a[4][0] for a in socket.getaddrinfo(name, 80)})
    except OSError as exc:
        out["resolve"][name] = type(exc).__name__
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
try:  # a DNS query straight at the host side of the bridge
    s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x07invalid\x00\x00\x01\x00\x01", (args["gateway"], 53))
    s.recvfrom(512)
    out["dns_gateway"] = "answered"
except socket.timeout:
    out["dns_gateway"] = "timeout"
except OSError as exc:
    out["dns_gateway"] = err(exc)
finally:
    s.close()

# the hub API with this server's own token
api, token = os.environ.get("JUPYTERHUB_API_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", "")
out["hub_api"] = {}
for label, method, path, body in args.get("hub_calls", []):
    req = urllib.request.Request(api.rstrip("/") + path, method=method, headers={"Authorization": f"token {token}"},
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            out["hub_api"][label] = r.status
    except urllib.error.HTTPError as exc:
        out["hub_api"][label] = exc.code
    except OSError as exc:
        out["hub_api"][label] = err(exc)

# identity provider and database ports on the host side of the bridge
out["host_ports"] = {str(p): connect(args["gateway"], p) for p in args.get("host_ports", [])}
print(json.dumps(out))
