"""The demo TRE on this machine: ``python -m sandkasse.demo`` (run by ``./scripts/demo``).

Starts each component in order, prints what runs where, then stays in the foreground until Ctrl-C
(and stops what it started), or with ``--detach`` exits leaving everything running. A second start
reuses what is already up. ``--stop`` stops a detached demo.

The demo is a list of :class:`Step`\\ s; each starts (or reuses) one component, records what later
steps need in the shared :class:`DemoContext`, and says where it runs. Add a step by appending to
:data:`STEPS`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sandkasse.settings import Settings, get_settings
from sandkasse.stack.process import StackError, log_path, var_path

KEYCLOAK_PORT = 8180
POSTGRES_PORT = 55432
DEMO_DATABASE = "sandkasse"
HUB_PORT = 8000
PORTAL_PORT = 8095


@dataclass
class Where:
    """One line of the "what runs where" table."""

    component: str
    address: str
    notes: str = ""


@dataclass
class DemoContext:
    settings: Settings
    demo_dir: Path
    console: Console
    # what steps hand to later steps (e.g. "keycloak", "postgres", "database_url")
    parts: dict[str, Any] = field(default_factory=dict)
    # environment for processes the later steps start, also written to var/demo/demo.env
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Step:
    name: str
    start: Callable[[DemoContext], list[Where]]
    stop: Callable[[DemoContext], None] | None = None


# -- steps ----------------------------------------------------------------------------------------


def start_docker(ctx: DemoContext) -> list[Where]:
    from sandkasse.stack.docker_engine import ensure_docker

    version = ensure_docker().version()["Version"]
    return [Where("Docker engine", "unix:///var/run/docker.sock", f"version {version}; log {log_path('dockerd')}")]


def start_base_image(ctx: DemoContext) -> list[Where]:
    from sandkasse.stack.base_image import ensure_base_image

    ctx.parts["base_image"] = tag = ensure_base_image()
    return [Where("base image", tag, "debootstrap bookworm + python3, cached under var/cache/base")]


def start_keycloak(ctx: DemoContext) -> list[Where]:
    from sandkasse.stack.keycloak_server import ensure_keycloak

    kc = ensure_keycloak("demo", KEYCLOAK_PORT, home=ctx.demo_dir / "keycloak")
    ctx.parts["keycloak"] = kc
    ctx.env["SANDKASSE_KEYCLOAK_URL"] = kc.url
    ctx.env["SANDKASSE_KEYCLOAK_REALM"] = kc.realm
    secrets_dir = var_path("secrets")
    return [
        Where("Keycloak admin console", f"{kc.url}/admin/", f"user sandkasse-admin, password in {secrets_dir}/keycloak-demo-admin-password"),
        Where("Keycloak realm", f"{kc.url}/realms/{kc.realm}", f"client secrets in {secrets_dir}/keycloak-demo-client-*; log {kc.log}"),
    ]  # fmt: skip


def stop_keycloak(ctx: DemoContext) -> None:
    from sandkasse.stack.keycloak_server import keycloak_server

    keycloak_server("demo", KEYCLOAK_PORT, home=ctx.demo_dir / "keycloak").stop()


def start_postgres(ctx: DemoContext) -> list[Where]:
    from sandkasse.stack.postgres_server import ensure_postgres

    pg = ensure_postgres("demo", POSTGRES_PORT)
    if not pg.database_exists(DEMO_DATABASE):
        pg.create_database(DEMO_DATABASE)
    ctx.parts["postgres"] = pg
    ctx.parts["database_url"] = ctx.env["SANDKASSE_DATABASE_URL"] = pg.url(DEMO_DATABASE)
    return [
        Where("PostgreSQL", f"127.0.0.1:{POSTGRES_PORT}/{DEMO_DATABASE}",
              f"user postgres, password in {pg.password_file}; data {pg.data_dir}; log {pg.log}"),
    ]  # fmt: skip


def stop_postgres(ctx: DemoContext) -> None:
    from sandkasse.stack.postgres_server import PostgresServer

    PostgresServer("demo", POSTGRES_PORT).stop()
    legacy = ctx.demo_dir / "postgres" / "data"  # where a demo started before 2026-12 keeps its cluster
    if (legacy / "postmaster.pid").exists():
        from sandkasse.stack.postgres_server import PG_BIN, _as_postgres

        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(legacy), "-m", "fast", "-w", "stop"], "stopping PostgreSQL", timeout=60)


def _demo_secret(ctx: DemoContext, name: str, make: Callable[[], str]) -> str:
    """A demo secret kept (mode 600) under var/demo/secrets, so a restarted demo keeps its keys."""
    path = ctx.demo_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def start_provisioning(ctx: DemoContext) -> list[Where]:
    from egress_review.db import migrate as migrate_egress
    from provisioning.db import migrate as migrate_provisioning
    from provisioning.demo import seed_demo
    from sandkasse.keys import decode_key, encode_key, generate_key

    url = ctx.parts["database_url"]
    master = _demo_secret(ctx, "master-key", lambda: encode_key(generate_key()))
    ctx.env["SANDKASSE_MASTER_KEY"] = master
    # This process writes provisioning's first audit events (migrations, seed): they are sealed
    # under the same master key as the services', so `sandkasse audit verify` holds from the start.
    os.environ["SANDKASSE_MASTER_KEY"] = master
    get_settings.cache_clear()
    ctx.env["SANDKASSE_PROJECT_TOKEN_KEY"] = _demo_secret(ctx, "project-token-key", lambda: secrets.token_urlsafe(48))
    # in demo.env too, so `sandkasse audit verify` there checks the hub's sealed stream
    ctx.env["SANDKASSE_HUB_AUDIT_KEY"] = _demo_secret(ctx, "hub-audit-key", lambda: encode_key(generate_key()))
    ctx.env["SANDKASSE_VAR_DIR"] = str(ctx.settings.var_dir)
    migrate_provisioning(url)
    migrate_egress(url)
    kc = ctx.parts["keycloak"]
    info = seed_demo(url, ctx.settings.var_dir, keycloak=kc.admin(), master_key=decode_key(master))
    ctx.parts["demo_users"] = info.users
    where = [Where("demo data", str(info.data_dir), "synthetic sick-leave records (no real person)")]
    if info.population_dir is not None:
        where.append(Where("population register", str(info.population_dir),
                           "synthetic Oslo residents; bydelsfakta/*.csv for `sandkasse publication check`"))
    for slug, folder in info.projects.items():
        where.append(Where(f"project {slug}", str(folder), "extracts, read-only; mounted at /data in its notebooks"))
    return where


def start_notebook_image(ctx: DemoContext) -> list[Where]:
    from hub.images import ensure_notebook_image

    ctx.parts["notebook_image"] = tag = ensure_notebook_image()  # its own base: the local base plus R
    return [Where("notebook image", tag, "JupyterLab (Python and R kernels), pandas, statsmodels, sdc wrappers (Python and R), "
                  "sandkasse-export; built offline")]


def egress_port() -> int:
    """The port the sandbox firewall admits for exports (policies/security.yaml), so notebooks reach it."""
    from hub.policy import security_policy

    return security_policy().network.egress_port


def start_egress_service(ctx: DemoContext) -> list[Where]:
    from egress_review.run import start_egress, stop_egress

    kc = ctx.parts["keycloak"]
    env = {
        **ctx.env,
        "SANDKASSE_EGRESS_CLIENT_SECRET": kc.client_secret("sandkasse-egress"),
        "SANDKASSE_SESSION_SECRET": _demo_secret(ctx, "session-secret", lambda: secrets.token_urlsafe(48)),
        # plain HTTP on loopback only: the demo has no TLS proxy (docker-compose.yml has one)
        "SANDKASSE_WEB_INSECURE_LOOPBACK": "true",
    }
    pid_file = ctx.demo_dir / "egress.pid"
    stop_egress(pid_file)  # a restarted demo replaces the old service (new settings, new code)
    # 0.0.0.0: sandboxes reach it at their network's gateway; the sandbox firewall admits only this port
    ctx.parts["egress"] = start_egress(env, port=egress_port(), host="0.0.0.0", log_path=log_path("demo-egress"), pid_file=pid_file)
    return [Where("egress review (output checkers, researchers, admins)", f"http://127.0.0.1:{egress_port()}/",
                  f"log in through Keycloak; API docs /docs; log {log_path('demo-egress')}")]  # fmt: skip


def stop_egress_service(ctx: DemoContext) -> None:
    from egress_review.run import stop_egress

    stop_egress(ctx.demo_dir / "egress.pid")


def start_portal_step(ctx: DemoContext) -> list[Where]:
    from provisioning.portal.demo_realm import allow_self_registration
    from provisioning.portal.run import start_portal, stop_portal

    kc = ctx.parts["keycloak"]
    allow_self_registration(kc.admin(), kc.realm)
    env = {
        **ctx.env,
        "SANDKASSE_PORTAL_CLIENT_SECRET": kc.client_secret("sandkasse-portal"),
        "SANDKASSE_SESSION_SECRET": _demo_secret(ctx, "portal-session-secret", lambda: secrets.token_urlsafe(48)),
        "SANDKASSE_WEB_INSECURE_LOOPBACK": "true",  # plain HTTP on loopback only, as the egress UI
        "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{HUB_PORT}",  # the applicant's link to the synthetic twin
        # an approved application's project gets its Keycloak group and accounts at once
        "SANDKASSE_KEYCLOAK_ADMIN_USER": "sandkasse-admin",
        "SANDKASSE_KEYCLOAK_ADMIN_PASSWORD": kc.admin_password,
    }
    pid_file = ctx.demo_dir / "portal.pid"
    stop_portal(pid_file)
    ctx.parts["portal"] = start_portal(env, port=PORTAL_PORT, log_path=log_path("demo-portal"), pid_file=pid_file)
    return [Where("application portal (applicants, dataset owners, DPO, controller)", f"http://127.0.0.1:{PORTAL_PORT}/",
                  f"log in through Keycloak (or register as an applicant); one application waits for each role; "
                  f"log {log_path('demo-portal')}")]  # fmt: skip


def stop_portal_step(ctx: DemoContext) -> None:
    from provisioning.portal.run import stop_portal

    stop_portal(ctx.demo_dir / "portal.pid")


def hub_environment(env: dict[str, str]) -> dict[str, str]:
    """The demo's settings minus the master key: the hub seals its stream with its own key and never
    wraps or unwraps a data key (as in docker-compose.yml)."""
    return {k: v for k, v in env.items() if k not in {"SANDKASSE_MASTER_KEY", "SANDKASSE_MASTER_KEY_FILE"}}


def start_hub_step(ctx: DemoContext) -> list[Where]:
    from hub.run import start_hub, stop_hub

    kc = ctx.parts["keycloak"]
    state_dir = ctx.demo_dir / "hub"
    stop_hub(state_dir)
    env = {
        **hub_environment(ctx.env),
        "SANDKASSE_HUB_STATE_DIR": str(state_dir),
        "SANDKASSE_HUB_PORT": str(HUB_PORT),
        "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{HUB_PORT}",
        "SANDKASSE_HUB_CLIENT_SECRET": kc.client_secret("sandkasse-hub"),
        "SANDKASSE_HUB_NOTEBOOK_IMAGE": ctx.parts["notebook_image"],
        "SANDKASSE_HUB_EGRESS_PORT": str(egress_port()),
    }
    ctx.parts["hub"] = start_hub(env, log_path=log_path("demo-hub"))
    return [Where("JupyterHub (researchers)", f"http://127.0.0.1:{HUB_PORT}/",
                  f"log in through Keycloak; one server per project; log {log_path('demo-hub')}")]  # fmt: skip


def stop_hub_step(ctx: DemoContext) -> None:
    from hub.run import stop_hub

    stop_hub(ctx.demo_dir / "hub")


STEPS: list[Step] = [
    Step("Docker engine", start_docker),  # shared with other users of this machine: never stopped here
    Step("base image", start_base_image),
    Step("Keycloak", start_keycloak, stop_keycloak),
    Step("PostgreSQL", start_postgres, stop_postgres),
    Step("demo projects, data and users", start_provisioning),
    Step("notebook image", start_notebook_image),
    Step("egress review service", start_egress_service, stop_egress_service),
    Step("application portal", start_portal_step, stop_portal_step),
    Step("JupyterHub", start_hub_step, stop_hub_step),
]


# -- running --------------------------------------------------------------------------------------


def write_env(ctx: DemoContext) -> Path:
    """``var/demo/demo.env``: the settings for processes that join the demo (holds a password: 600)."""
    path = ctx.demo_dir / "demo.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in sorted(ctx.env.items()))
    return path


def stop_all(ctx: DemoContext, steps: list[Step]) -> None:
    for step in reversed(steps):
        if step.stop is None:
            continue
        ctx.console.print(f"stopping {step.name} ...")
        try:
            step.stop(ctx)
        except Exception as exc:  # keep stopping the others
            ctx.console.print(f"[red]could not stop {step.name}: {exc}[/red]")


def start_all(ctx: DemoContext, steps: list[Step]) -> list[Where]:
    """Start each step in order; when one fails (or Ctrl-C), stop every step reached so far, the
    failing one included (it may be half up), so nothing is left running detached from us."""
    where: list[Where] = []
    for i, step in enumerate(steps):
        t0 = time.perf_counter()
        try:
            with ctx.console.status(f"starting {step.name} ..."):
                where += step.start(ctx)
        except BaseException:
            ctx.console.print(f"[red]✗[/red] {step.name}: stopping what this run started")
            stop_all(ctx, steps[: i + 1])
            raise
        ctx.console.print(f"[green]✓[/green] {step.name} ({time.perf_counter() - t0:.1f} s)")
    return where


def print_where(ctx: DemoContext, where: list[Where], env_file: Path) -> None:
    table = Table(title="Sandkasse demo: what runs where")
    table.add_column("component")
    table.add_column("address")
    table.add_column("notes", overflow="fold")
    for w in where:
        table.add_row(w.component, w.address, w.notes)
    ctx.console.print(table)
    users = ctx.parts.get("demo_users") or {}
    if users:
        people = Table(title="Demo users (demo passwords, new on every start; never use them elsewhere)")
        for col in ("user", "password", "roles", "projects"):
            people.add_column(col)
        for u in users.values():
            projects = ", ".join(f"{slug} ({role})" for slug, role in u.projects.items()) or "-"
            people.add_row(u.username, u.password or "-", ", ".join(u.roles), projects)
        ctx.console.print(people)
    ctx.console.print(f"settings for other processes: {env_file} (source it, or `set -a; . {env_file}`)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandkasse.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--detach", action="store_true", help="start, print, and exit leaving everything running")
    parser.add_argument("--stop", action="store_true", help="stop a detached demo")
    args = parser.parse_args(argv)

    ctx = DemoContext(settings=get_settings(), demo_dir=var_path("demo"), console=Console(width=shutil.get_terminal_size((160, 24)).columns))
    if args.stop:
        stop_all(ctx, STEPS)
        return 0
    try:
        where = start_all(ctx, STEPS)
    except KeyboardInterrupt:
        return 130
    except StackError as exc:
        ctx.console.print(f"[red]the demo could not start:[/red] {exc}")
        return 1
    print_where(ctx, where, write_env(ctx))
    if args.detach:
        ctx.console.print("detached: everything keeps running; stop with `python -m sandkasse.demo --stop`")
        return 0

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    ctx.console.print("running; Ctrl-C stops the demo")
    try:
        while not stopping:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stop_all(ctx, STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
