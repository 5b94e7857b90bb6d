"""Docker engines with CVE-2024-29018 are refused by the spawner and by ``sandkasse doctor`` unless the
policy closes the DNS path (issue 15, item 6). The end-to-end proof that the closed path holds on the
real engine is ``tests/e2e/hub/test_engine_dns.py``."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest
import yaml
from tornado import web

from hub.engine_check import dns_closed, engine_affected, engine_problem
from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.unit

NO_CHANGELOG = Path("/nonexistent/changelog.Debian.gz")
CLOSED = ["192.0.2.53"]


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("20.10.24+dfsg1", True), ("20.10.24", True), ("23.0.10", True), ("23.0.11", False), ("24.0.9", True),
        ("25.0.3", True), ("25.0.4", False), ("26.0.0", False), ("26.1.4", False), ("28.2.2", False),
        ("", True), ("nonsense", True),
    ],
)  # fmt: skip
def test_affected_versions(version, affected):
    assert engine_affected(version, NO_CHANGELOG) is affected


def test_a_debian_changelog_naming_the_fix_counts_as_fixed(tmp_path):
    changelog = tmp_path / "changelog.Debian.gz"
    with gzip.open(changelog, "wt") as fh:
        fh.write("docker.io (20.10.24+dfsg1-1+deb12u2) bookworm-security\n  * Fix CVE-2024-29018\n")
    assert engine_affected("20.10.24+dfsg1", changelog) is False
    assert engine_affected("20.10.24", changelog) is True, "not a Debian build: the changelog says nothing about it"


@pytest.mark.parametrize(
    ("dns", "closed"),
    [(["192.0.2.53"], True), (["198.51.100.1", "203.0.113.9"], True), ([], False), (["127.0.0.1"], False),
     (["::1"], False), (["192.0.2.53", "127.0.0.53"], False), (["not-an-address"], False)],
)  # fmt: skip
def test_only_resolvers_that_exist_nowhere_close_the_path(dns, closed):
    assert dns_closed(dns) is closed


def test_an_affected_engine_is_refused_unless_the_path_is_closed():
    problem = engine_problem("20.10.24+dfsg1", [], NO_CHANGELOG)
    assert problem and "CVE-2024-29018" in problem and "network.sandbox_dns" in problem
    assert engine_problem("20.10.24+dfsg1", CLOSED, NO_CHANGELOG) is None
    assert engine_problem("26.0.0", [], NO_CHANGELOG) is None


def test_the_shipped_policy_closes_the_path():
    policy = yaml.safe_load((REPO_ROOT / "policies" / "security.yaml").read_text())
    assert dns_closed(policy["network"]["sandbox_dns"])


def _spawner(tmp_path, dns: list[str], version: str):
    from hub.spawner import ProjectDockerSpawner

    policy = yaml.safe_load((REPO_ROOT / "policies" / "security.yaml").read_text())
    policy["network"]["sandbox_dns"] = dns
    path = tmp_path / "security.yaml"
    path.write_text(yaml.safe_dump(policy))
    spawner = ProjectDockerSpawner(policy_file=str(path))

    async def docker(method, *args, **kwargs):
        assert method == "version"
        return {"Version": version}

    spawner.docker = docker
    return spawner


def test_the_spawner_refuses_an_affected_engine_with_403_and_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr("hub.engine_check.DEBIAN_CHANGELOG", NO_CHANGELOG)
    with pytest.raises(web.HTTPError) as refused:
        asyncio.run(_spawner(tmp_path, [], "20.10.24+dfsg1").check_engine())
    assert refused.value.status_code == 403
    assert "CVE-2024-29018" in refused.value.jupyterhub_message
    asyncio.run(_spawner(tmp_path, CLOSED, "20.10.24+dfsg1").check_engine())  # closed: starts
    asyncio.run(_spawner(tmp_path, [], "26.1.0").check_engine())  # fixed engine: starts


def test_the_spawner_gives_sandboxes_the_policys_resolvers(tmp_path):
    spawner = _spawner(tmp_path, CLOSED, "20.10.24")
    from types import SimpleNamespace

    spawner.user = SimpleNamespace(name="ingrid")  # _apply_policy labels the container with the user
    spawner.user_options = {"project": "sick-leave-2026"}  # mounts that project's extracts
    spawner._apply_policy()
    assert spawner.extra_host_config["dns"] == CLOSED


def test_doctor_refuses_an_affected_engine_with_the_path_open_and_accepts_it_closed(monkeypatch):
    from hub import policy as hub_policy
    from sandkasse.doctor import check_engine_bugs
    from sandkasse.settings import get_settings

    monkeypatch.setattr("hub.engine_check.DEBIAN_CHANGELOG", NO_CHANGELOG)
    ok = check_engine_bugs(get_settings(), version="20.10.24+dfsg1")
    assert ok.ok and "closed by sandbox DNS 192.0.2.53" in ok.detail
    open_policy = hub_policy.security_policy().model_copy(deep=True)
    open_policy.network.sandbox_dns = []
    monkeypatch.setattr(hub_policy, "security_policy", lambda: open_policy)
    refused = check_engine_bugs(get_settings(), version="20.10.24+dfsg1")
    assert not refused.ok and "CVE-2024-29018" in refused.detail
