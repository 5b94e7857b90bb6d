"""Docker engines with known sandbox-breaking bugs, and whether this installation closes the hole
another way. Used by the spawner (refuses to start a sandbox) and by ``sandkasse doctor``.

CVE-2024-29018 (GHSA-mq39-4gv4-mvpx): on an ``--internal`` network the engine's embedded DNS resolver
still forwards names it does not know to the upstream resolvers, and when those are on the host's
loopback (systemd-resolved, dnsmasq) it does so from the host's network namespace. A sandbox can then
send data out as DNS names. Fixed in 23.0.11, 25.0.4 and 26.0.0. Debian's ``docker.io`` 20.10 in
bookworm has no backport (its changelog does not name the CVE).

The other way to close it, as the advisory says: give the container its own upstream (``--dns``),
which makes the engine forward from the container's namespace. The spawner sets the policy's
``network.sandbox_dns``, addresses in the documentation ranges that exist nowhere; a sandbox has no
default route, so a forwarded lookup fails at once and no resolver, the host's or any other, sees it.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path

CVE = "CVE-2024-29018"
# First fixed release of each maintained line; every line not listed (< 23, 24.x) has no fix.
FIXED_IN = {(23, 0): (23, 0, 11), (25, 0): (25, 0, 4)}
FIRST_FIXED_MAJOR = 26
DEBIAN_CHANGELOG = Path("/usr/share/doc/docker.io/changelog.Debian.gz")
# RFC 5737 documentation ranges: never routed anywhere, so nothing can answer there.
NOWHERE = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def debian_backport(version: str, changelog: Path | None = None) -> bool:
    """A Debian-built engine (``+dfsg`` in its version) whose package changelog names the CVE fix.
    Only meaningful where the engine is the Debian package of this host (doctor; the demo's hub)."""
    changelog = changelog or DEBIAN_CHANGELOG
    if "dfsg" not in version or not changelog.exists():
        return False
    try:
        with gzip.open(changelog, "rt", errors="replace") as fh:
            return CVE in fh.read()
    except OSError:
        return False


def engine_affected(version: str, changelog: Path | None = None) -> bool:
    """True when the engine ``version`` has the bug (an unreadable version counts as affected)."""
    parsed = parse_version(version)
    if parsed is None:
        return True
    if parsed[0] >= FIRST_FIXED_MAJOR:
        return False
    first_fixed = FIXED_IN.get(parsed[:2])
    if first_fixed is not None and parsed >= first_fixed:
        return False
    return not debian_backport(version, changelog)


def dns_closed(sandbox_dns: Sequence[str]) -> bool:
    """The sandbox's upstream resolvers are set, and each is an address that exists nowhere."""
    if not sandbox_dns:
        return False
    try:
        addresses = [ipaddress.ip_address(a) for a in sandbox_dns]
    except ValueError:
        return False
    return all(any(a in net for net in NOWHERE) for a in addresses)


def engine_problem(version: str, sandbox_dns: Sequence[str], changelog: Path | None = None) -> str | None:
    """Why sandboxes must not start on this engine, or ``None`` when they may."""
    if not engine_affected(version, changelog):
        return None
    if dns_closed(sandbox_dns):
        return None
    return (
        f"Docker engine {version} has {CVE} (internal networks resolve outside names through the host's "
        "resolver, a way out for data) and the sandbox DNS path is not closed another way: upgrade the engine "
        "to 23.0.11, 25.0.4 or 26.0 or later, or set network.sandbox_dns in policies/security.yaml to an "
        "address in 192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24."
    )
