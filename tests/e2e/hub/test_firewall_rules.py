"""The firewall module against the real iptables, on a throwaway chain and interface prefix (nothing
matches them, and everything is removed afterwards): rules are idempotent, ports of hubs that are
gone are pruned, and problems() names what is missing."""

from __future__ import annotations

import os
import subprocess

import pytest

from hub.firewall import SandboxFirewall

pytestmark = pytest.mark.e2e

CHAIN, PREFIX = "SKTEST-FW", "sktst-"


@pytest.fixture
def throwaway():
    yield
    for binary, hooks in (("iptables", [["INPUT"], ["DOCKER-USER"]]), ("ip6tables", [["INPUT"], ["FORWARD"]])):
        listing = subprocess.run([binary, "-w", "10", "-S"], capture_output=True, text=True).stdout.splitlines()
        for line in listing:
            if line.startswith("-A ") and (f"{PREFIX}+" in line):
                subprocess.run([binary, "-w", "10", "-D", *line.split()[1:]], check=False)
        subprocess.run([binary, "-w", "10", "-F", CHAIN], capture_output=True)
        subprocess.run([binary, "-w", "10", "-X", CHAIN], capture_output=True)


def test_install_verify_prune_remove(throwaway):
    fw = SandboxFirewall(CHAIN, PREFIX, {40001, 40002}, {40001})
    assert fw.problems()  # nothing installed yet
    fw.install()
    fw.install()  # idempotent
    assert fw.problems() == []
    rules = subprocess.run(["iptables", "-S", CHAIN], capture_output=True, text=True).stdout.splitlines()
    assert rules[1].endswith("--ctstate RELATED,ESTABLISHED -j ACCEPT") and rules[-1] == f"-A {CHAIN} -j DROP"
    assert sum("--dport 40002" in r for r in rules) == 1

    dead = SandboxFirewall(CHAIN, PREFIX, {40003}, set(), f"sandkasse hub {os.stat('/proc/self/ns/pid').st_ino}:999999")
    dead.install()
    assert fw.accepted_ports() == {40001, 40002, 40003}
    assert fw.prune_stale() == [40003]
    assert fw.accepted_ports() == {40001, 40002}

    fw.remove_ports({40002})
    assert "does not accept port 40002" in "; ".join(fw.problems())
