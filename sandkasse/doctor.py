"""``sandkasse doctor``: is each component of this installation there, and how to fix what is not.

Every check only looks (it never starts or changes anything) and returns a :class:`CheckResult`
with the fix an operator can run. The exit code is non-zero when anything is missing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from sandkasse.settings import REPO_ROOT, Settings, get_settings

FIREWALL_CHAIN = "SANDKASSE-SANDBOX"
NOTEBOOK_REPOSITORY = "sandkasse/notebook"
# (label, migrations folder, how to migrate); the version table is read from the folder's env.py
MIGRATION_SETS = [
    ("provisioning", REPO_ROOT / "provisioning" / "migrations",
     'python -c "from provisioning.db import migrate; migrate()"'),
    ("egress review", REPO_ROOT / "egress_review" / "migrations",
     'python -c "from egress_review.db import migrate; from sandkasse.settings import get_settings; '
     'migrate(get_settings().effective_database_url)"'),
]  # fmt: skip
START_STACK = "./scripts/demo --detach"


@dataclass(frozen=True)
class CheckResult:
    component: str
    ok: bool
    detail: str
    fix: str = ""


def check_docker(settings: Settings) -> CheckResult:
    from sandkasse.stack.docker_engine import docker_answers

    if shutil.which("docker") is None:
        return CheckResult("Docker engine", False, "docker CLI not installed", "./scripts/install")
    if docker_answers():
        return CheckResult("Docker engine", True, "`docker info` answers")
    return CheckResult(
        "Docker engine", False, "no engine answers `docker info`",
        f"{START_STACK} (or: setsid dockerd >var/log/dockerd.log 2>&1 &)",
    )  # fmt: skip


def _image_tags() -> list[str] | None:
    from sandkasse.stack.docker_engine import client, docker_answers

    if not docker_answers():
        return None
    dc = client()
    try:
        return [tag for image in dc.images.list() for tag in image.tags]
    finally:
        dc.close()


def check_base_image(settings: Settings) -> CheckResult:
    from sandkasse.stack.base_image import base_tag

    tag = base_tag()
    tags = _image_tags()
    fix = 'python -c "from sandkasse.stack.base_image import ensure_base_image; print(ensure_base_image())"'
    if tags is None:
        return CheckResult("base image", False, "cannot tell: Docker engine not reachable", "start the Docker engine first")
    if tag in tags:
        return CheckResult("base image", True, tag)
    return CheckResult("base image", False, f"{tag} not built", fix)


def check_notebook_image(settings: Settings) -> CheckResult:
    tags = _image_tags()
    fix = 'python -c "from hub.images import ensure_notebook_image; print(ensure_notebook_image())"'
    if tags is None:
        return CheckResult("notebook image", False, "cannot tell: Docker engine not reachable", "start the Docker engine first")
    found = sorted(t for t in tags if t.startswith(NOTEBOOK_REPOSITORY + ":"))
    if found:
        return CheckResult("notebook image", True, ", ".join(found[:3]) + (" ..." if len(found) > 3 else ""))
    return CheckResult("notebook image", False, f"no {NOTEBOOK_REPOSITORY}:* image", fix)


def check_keycloak(settings: Settings) -> CheckResult:
    url = f"{settings.keycloak_url.rstrip('/')}/realms/{settings.keycloak_realm}/.well-known/openid-configuration"
    fix = f"{START_STACK} (starts Keycloak on 127.0.0.1:8180), or set SANDKASSE_KEYCLOAK_URL"
    try:
        r = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return CheckResult("Keycloak", False, f"nothing answers at {settings.keycloak_url} ({type(exc).__name__})", fix)
    if r.status_code == 200:
        return CheckResult("Keycloak", True, f"realm {settings.keycloak_realm} answers at {settings.keycloak_url}")
    return CheckResult(
        "Keycloak", False, f"realm {settings.keycloak_realm} at {settings.keycloak_url}: HTTP {r.status_code}", fix
    )


def _version_table(migrations: Path) -> str:
    m = re.search(r'^VERSION_TABLE\s*=\s*["\']([^"\']+)["\']', (migrations / "env.py").read_text(), re.M)
    return m.group(1) if m else "alembic_version"


def check_migrations(settings: Settings, label: str, migrations: Path, fix: str) -> CheckResult:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    component = f"database: {label}"
    if not (migrations / "env.py").exists():
        return CheckResult(component, False, f"not set up: no migrations in {migrations.relative_to(REPO_ROOT)}",
                           "the component's migrations are not written yet")  # fmt: skip
    url = settings.database_url or f"sqlite:///{settings.var_dir / 'sandkasse.db'}"
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return CheckResult(component, False, f"not set up: {parsed.database} does not exist", fix)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    connect_args = {} if parsed.get_backend_name() == "sqlite" else {"connect_timeout": 5}
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn, opts={"version_table": _version_table(migrations)})
                          .get_current_heads())  # fmt: skip
    except Exception as exc:  # unreachable server, bad credentials: say so, don't crash the table
        return CheckResult(component, False, f"cannot connect to {shown}: {type(exc).__name__}", fix)
    finally:
        engine.dispose()
    if not current:
        return CheckResult(component, False, f"not migrated ({shown})", fix)
    if current != heads:
        return CheckResult(component, False, f"at {', '.join(sorted(current))}, head is {', '.join(sorted(heads))}", fix)
    return CheckResult(component, True, f"at head {', '.join(sorted(heads))} ({shown})")


def check_firewall(settings: Settings) -> CheckResult:
    """Every rule the hub relies on (hub/firewall.py names what is missing), not only the chain."""
    from hub.firewall import SandboxFirewall

    try:
        problems = SandboxFirewall.from_policy().problems()
    except Exception as exc:  # iptables hanging or the policy unreadable: say so, don't crash the report
        return CheckResult("sandbox firewall", False, f"could not inspect: {exc}", "see hub/firewall.py")
    if problems:
        return CheckResult("sandbox firewall", False, "; ".join(problems), "start the hub (it installs the rules: hub/firewall.py)")
    return CheckResult("sandbox firewall", True, f"chain {FIREWALL_CHAIN} complete")


def check_node_agents(settings: Settings) -> CheckResult:
    """Each node agent (SANDKASSE_HUB_NODE_AGENT_URL, comma-separated: one per node) answers and has
    found its node's firewall complete at its last re-check."""
    from hub.node_agent.client import AgentClient
    from hub.settings import HubSettings

    hs = HubSettings()
    urls = [u.strip() for u in hs.node_agent_url.split(",") if u.strip()]
    if not urls:
        return CheckResult("node agents", True, "none configured: the hub isolates sandboxes itself (as root)")
    bad, good = [], []
    for url in urls:
        try:
            health = AgentClient.from_files(url, hs.node_agent_token_file).health()
        except Exception as exc:  # unreachable, wrong token, no token file: name it per agent
            bad.append(f"{url}: {exc}")
            continue
        problems = health.get("firewall_problems") or []
        (bad if problems else good).append(f"{url}: " + ("; ".join(problems) if problems else "firewall complete"))
    if bad:
        return CheckResult("node agents", False, " | ".join(bad + good),
                           "start the agent on that node (python -m hub.node_agent, docs/deploy.md) and check its log")
    return CheckResult("node agents", True, " | ".join(good))


def check_swarm_node_agents(settings: Settings) -> CheckResult:
    """On a swarm (SANDKASSE_SWARM_AGENT_SERVICE, with DOCKER_HOST a manager's engine): every ready node
    runs a task of the agent's global service, which runs only while its node's firewall is complete."""
    import docker

    from hub.swarm.agent_service import nodes_without_agent
    from hub.swarm.config import SwarmSettings

    service = SwarmSettings().agent_service
    if not service:
        return CheckResult("swarm node agents", True, "no swarm agent service configured (SANDKASSE_SWARM_AGENT_SERVICE)")
    client = docker.from_env(timeout=30).api
    try:
        missing = nodes_without_agent(client, service)
    finally:
        client.close()
    if missing:
        return CheckResult("swarm node agents", False, f"no healthy {service} task on: {', '.join(missing)}",
                           f"docker service ps {service} on a manager: the task's error or health log names the cause")
    return CheckResult("swarm node agents", True, f"{service} healthy on every ready node")


def check_release_signing_key(settings: Settings) -> CheckResult:
    """The egress service refuses to release without its key; say so before a checker finds out."""
    from egress_review.release.signing import KeyState, ReleaseSigner, SigningKeyMissing, key_id, key_state
    from egress_review.settings import EgressSettings

    es = settings if isinstance(settings, EgressSettings) else EgressSettings(
        **{name: getattr(settings, name) for name in Settings.model_fields})
    private, public = es.signing_key_path, es.public_key_path
    state = key_state(private, public, es.release_dir)
    if state is KeyState.FRESH:
        return CheckResult("release signing key", False, f"not created yet ({private})",
                           "start the egress service once: a new installation creates its key on first start")
    if state is KeyState.LOST:
        return CheckResult("release signing key", False,
                           f"MISSING at {private}, although a key was published or releases were signed: "
                           "the egress service refuses to release",
                           "restore egress/keys from the backup of the data folder (docs/deploy.md, \"Release signing key\")")
    try:
        signer = ReleaseSigner.load(private, public)
    except (SigningKeyMissing, ValueError) as exc:
        return CheckResult("release signing key", False, getattr(exc, "message", str(exc)),
                           "restore the original key from backup (docs/deploy.md, \"Release signing key\")")
    return CheckResult("release signing key", True, f"key {key_id(signer.public)} at {private}")
def check_engine_bugs(settings: Settings, version: str | None = None) -> CheckResult:
    """Known sandbox escapes of the engine (CVE-2024-29018), unless the policy closes them."""
    from hub.engine_check import CVE, engine_affected, engine_problem
    from hub.policy import security_policy

    component = f"Docker engine bugs ({CVE})"
    if version is None:
        from sandkasse.stack.docker_engine import client, docker_answers

        if not docker_answers():
            return CheckResult(component, False, "cannot tell: Docker engine not reachable", "start the Docker engine first")
        dc = client()
        try:
            version = str(dc.version().get("Version", ""))
        finally:
            dc.close()
    dns = [str(a) for a in security_policy().network.sandbox_dns]
    problem = engine_problem(version, dns)
    if problem:
        return CheckResult(component, False, problem, "upgrade docker, or set network.sandbox_dns (policies/security.yaml)")
    if engine_affected(version):
        return CheckResult(component, True, f"engine {version} is affected; closed by sandbox DNS {', '.join(dns)} (no resolver there)")
    return CheckResult(component, True, f"engine {version} has the fix")


def checks() -> list[Callable[[Settings], CheckResult]]:
    migration_checks = [
        (lambda s, lbl=label, path=path, fix=fix: check_migrations(s, lbl, path, fix))
        for label, path, fix in MIGRATION_SETS
    ]
    return [check_docker, check_engine_bugs, check_base_image, check_notebook_image, check_keycloak, *migration_checks,
            check_release_signing_key, check_firewall, check_node_agents, check_swarm_node_agents]


def run_checks(settings: Settings | None = None) -> list[CheckResult]:
    settings = settings or get_settings()
    results = []
    for check in checks():
        try:
            results.append(check(settings))
        except Exception as exc:  # a broken check is reported as such, the others still run
            results.append(CheckResult(getattr(check, "__name__", "check"), False, f"check failed: {exc!r}"))
    return results


def run_doctor(settings: Settings | None = None, console: Console | None = None) -> int:
    results = run_checks(settings)
    table = Table(title="Sandkasse doctor")
    table.add_column("component")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("how to fix", overflow="fold")
    for r in results:
        status = "[green]OK[/green]" if r.ok else "[red]missing[/red]"
        table.add_row(r.component, status, r.detail, "" if r.ok else r.fix)
    console = console or Console()
    console.print(table)
    missing = [r.component for r in results if not r.ok]
    if missing:
        console.print(f"[red]{len(missing)} missing:[/red] {', '.join(missing)}")
        return 1
    console.print("[green]all components OK[/green]")
    return 0
