"""Host firewall for the sandbox bridges.

An ``--internal`` Docker network stops forwarding to the outside, but the host itself is still one hop
away: the container's default route points at the bridge address, so every host service listening
on 0.0.0.0 is reachable from the sandbox. Every project network's bridge is named with a common
prefix, and the host gets one iptables chain for that prefix:

* INPUT from a sandbox bridge jumps to ``SANDKASSE-SANDBOX``, which accepts established/related
  traffic (answers to the hub's and proxy's own connections into the container) and new TCP
  connections to the allowed ports (hub API, egress service) only, and drops the rest;
* DOCKER-USER (the FORWARD hook Docker leaves to us) drops everything entering or leaving a
  sandbox bridge, so nothing is routed between sandboxes or to other networks whatever Docker's own
  rules say;
* IPv6: the same chain in ip6tables drops everything (the sandboxes use IPv4 only).

Rules are added idempotently; allowed ports are added to (never replaced in) the chain so several hubs
(a demo and a test run) can share it; :func:`remove_ports` takes a test's ports away again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field

from hub.policy import security_policy


class FirewallError(RuntimeError):
    """The sandbox firewall could not be installed or is not in place."""


def _ipt(binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([binary, "-w", "10", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise FirewallError(f"{binary} {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _has(binary: str, *rule: str) -> bool:
    return _ipt(binary, "-C", *rule, check=False).returncode == 0


def _pid_namespace() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def owner_tag(hub_pid: int | None = None) -> str:
    """The comment on the port rules a hub adds: its pid and pid namespace, so rules of hubs that are
    gone (a crashed test run) can be told from live ones and pruned."""
    return f"sandkasse hub {_pid_namespace()}:{hub_pid or os.getpid()}"


_OWNED = re.compile(r'--comment "?sandkasse hub (\d+):(\d+)"?')
_DPORT = re.compile(r"--dport (\d+)\b")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class SandboxFirewall:
    chain: str
    bridge_prefix: str
    ports: set[int] = field(default_factory=set)
    # Ports the policy names stay for good; others belong to the hub process that added them.
    policy_ports: set[int] = field(default_factory=set)
    owner: str = field(default_factory=owner_tag)

    @classmethod
    def from_policy(cls, extra_ports: set[int] | None = None, hub_pid: int | None = None) -> "SandboxFirewall":
        net = security_policy().network
        fixed = {net.hub_api_port, net.egress_port}
        return cls(net.chain, net.bridge_prefix, fixed | set(extra_ports or ()), fixed, owner_tag(hub_pid))

    @property
    def interface_match(self) -> str:
        return f"{self.bridge_prefix}+"

    def _port_rule(self, port: int) -> list[str]:
        tag = "sandkasse policy" if port in self.policy_ports else self.owner
        return [
            self.chain, "-p", "tcp", "-m", "tcp", "--dport", str(port), "-m", "conntrack", "--ctstate", "NEW",
            "-m", "comment", "--comment", tag, "-j", "ACCEPT",
        ]  # fmt: skip

    def _chain_rules(self, binary: str = "iptables") -> list[str]:
        proc = _ipt(binary, "-S", self.chain, check=False)
        return [ln for ln in proc.stdout.splitlines() if ln.startswith("-A ")] if proc.returncode == 0 else []

    def accepted_ports(self) -> set[int]:
        return {int(m.group(1)) for ln in self._chain_rules() if "-j ACCEPT" in ln and (m := _DPORT.search(ln))}

    def _delete(self, line: str) -> None:
        _ipt("iptables", "-D", *shlex.split(line)[1:], check=False)

    def prune_stale(self) -> list[int]:
        """Remove port rules whose hub (same pid namespace) no longer runs; returns their ports."""
        ns = _pid_namespace()
        gone = []
        for line in self._chain_rules():
            m = _OWNED.search(line)
            if m and int(m.group(1)) == ns and not _alive(int(m.group(2))):
                self._delete(line)
                if (p := _DPORT.search(line)) is not None:
                    gone.append(int(p.group(1)))
        return gone

    def _established_rule(self) -> list[str]:
        return [self.chain, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"]

    def install(self) -> None:
        """Create or complete the chain and its hooks; safe to call at every hub start and spawn."""
        if shutil.which("iptables") is None:
            raise FirewallError("iptables is not installed (apt-get install iptables)")
        self._install_v4()
        if shutil.which("ip6tables") is not None:
            self._install_v6()

    def _install_v4(self) -> None:
        ipt = "iptables"
        _ipt(ipt, "-N", self.chain, check=False)
        rules = _ipt(ipt, "-S", self.chain).stdout.splitlines()
        if not any("-j DROP" in r for r in rules):
            _ipt(ipt, "-F", self.chain)
            _ipt(ipt, "-A", *self._established_rule())
            _ipt(ipt, "-A", self.chain, "-j", "DROP")
        if not _has(ipt, *self._established_rule()):
            _ipt(ipt, "-I", self.chain, "1", *self._established_rule()[1:])
        self.prune_stale()
        have = self.accepted_ports()
        for port in sorted(self.ports - have):
            _ipt(ipt, "-I", self.chain, "2", *self._port_rule(port)[1:])
        jump = ["INPUT", "-i", self.interface_match, "-j", self.chain]
        if not _has(ipt, *jump):
            _ipt(ipt, "-I", "INPUT", "1", *jump[1:])
        # Docker creates DOCKER-USER at start; create it if the engine has not (yet).
        _ipt(ipt, "-N", "DOCKER-USER", check=False)
        for direction in ("-i", "-o"):
            fwd = ["DOCKER-USER", direction, self.interface_match, "-j", "DROP"]
            if not _has(ipt, *fwd):
                _ipt(ipt, "-I", "DOCKER-USER", "1", *fwd[1:])
        if not _has("iptables", "FORWARD", "-j", "DOCKER-USER"):
            _ipt(ipt, "-I", "FORWARD", "1", "-j", "DOCKER-USER")

    def _install_v6(self) -> None:
        ipt = "ip6tables"
        _ipt(ipt, "-N", self.chain, check=False)
        if not _has(ipt, self.chain, "-j", "DROP"):
            _ipt(ipt, "-A", self.chain, "-j", "DROP")
        for hook in ("INPUT", "FORWARD"):
            jump = [hook, "-i", self.interface_match, "-j", self.chain]
            if not _has(ipt, *jump):
                _ipt(ipt, "-I", hook, "1", *jump[1:])

    def remove_ports(self, ports: set[int]) -> None:
        """Take ports out of the chain, whoever added them (tests remove their own ports this way)."""
        for line in self._chain_rules():
            m = _DPORT.search(line)
            if m and int(m.group(1)) in ports:
                self._delete(line)

    def problems(self) -> list[str]:
        """What is missing, in words an operator can act on; empty when the firewall is in place."""
        if shutil.which("iptables") is None:
            return ["iptables is not installed"]
        found: list[str] = []
        listing = _ipt("iptables", "-S", self.chain, check=False)
        if listing.returncode != 0:
            return [f"iptables chain {self.chain} does not exist (start the hub, or run `sandkasse doctor --fix`)"]
        rules = listing.stdout.splitlines()
        if not rules or rules[-1].strip() != f"-A {self.chain} -j DROP":
            found.append(f"chain {self.chain} does not end with DROP")
        if not _has("iptables", *self._established_rule()):
            found.append(f"chain {self.chain} does not accept established traffic")
        have = self.accepted_ports()
        for port in sorted(self.ports - have):
            found.append(f"chain {self.chain} does not accept port {port}")
        if not _has("iptables", "INPUT", "-i", self.interface_match, "-j", self.chain):
            found.append(f"INPUT does not send traffic from {self.interface_match} bridges to {self.chain}")
        for direction in ("-i", "-o"):
            if not _has("iptables", "DOCKER-USER", direction, self.interface_match, "-j", "DROP"):
                found.append(f"DOCKER-USER does not drop forwarding {direction} {self.interface_match}")
        return found

    def verify(self) -> None:
        problems = self.problems()
        if problems:
            raise FirewallError("sandbox firewall incomplete: " + "; ".join(problems))


# One nsenter for the whole job (every process start counts in the spawn time): delete the default
# routes (a failing delete just means there was none), then print what is left, which must be nothing.
_DROP_ROUTES = (
    "for i in 1 2 3 4; do ip -4 route del default 2>/dev/null || break; done; "
    "for i in 1 2 3 4; do ip -6 route del default 2>/dev/null || break; done; "
    "ip -4 route show default; ip -6 route show default 2>/dev/null; true"
)


def drop_default_route(pid: int) -> None:
    """Remove the default route inside a container's network namespace (the container cannot do it
    itself: it has no capabilities), then check that none is left."""
    if pid <= 0:
        raise FirewallError("container has no process to enter")
    proc = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "sh", "-c", _DROP_ROUTES], capture_output=True, text=True, timeout=15
    )
    if proc.returncode != 0 or proc.stdout.strip():
        detail = proc.stdout.strip() or proc.stderr.strip()
        raise FirewallError(f"default route still present in the sandbox of process {pid}: {detail}")
