"""The demo TRE on this machine: ``python -m sandkasse.demo`` (run by ``./scripts/demo``).

Starts each component in order, prints what runs where, then stays in the foreground until Ctrl-C
(and stops what it started), or with ``--detach`` exits leaving everything running. A second start
reuses what is already up. ``--stop`` stops a detached demo.

The demo is a list of :class:`Step`\\ s; each starts (or reuses) one component, records what later
steps need in the shared :class:`DemoContext`, and says where it runs. Add a step by appending to
:data:`STEPS` (hub, egress service, provisioning of demo projects and users come later).
"""

from __future__ import annotations

import argparse
import os
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
    secrets = var_path("secrets")
    return [
        Where("Keycloak admin console", f"{kc.url}/admin/", f"user sandkasse-admin, password in {secrets}/keycloak-demo-admin-password"),
        Where("Keycloak realm", f"{kc.url}/realms/{kc.realm}", f"client secrets in {secrets}/keycloak-demo-client-*; log {kc.log}"),
    ]  # fmt: skip


def stop_keycloak(ctx: DemoContext) -> None:
    from sandkasse.stack.keycloak_server import keycloak_server

    keycloak_server("demo", KEYCLOAK_PORT, home=ctx.demo_dir / "keycloak").stop()


def start_postgres(ctx: DemoContext) -> list[Where]:
    from sandkasse.stack.postgres_server import ensure_postgres

    pg = ensure_postgres("demo", ctx.demo_dir / "postgres" / "data", POSTGRES_PORT)
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

    PostgresServer("demo", ctx.demo_dir / "postgres" / "data", POSTGRES_PORT).stop()


STEPS: list[Step] = [
    Step("Docker engine", start_docker),  # shared with other users of this machine: never stopped here
    Step("base image", start_base_image),
    Step("Keycloak", start_keycloak, stop_keycloak),
    Step("PostgreSQL", start_postgres, stop_postgres),
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
    where: list[Where] = []
    for step in steps:
        t0 = time.perf_counter()
        with ctx.console.status(f"starting {step.name} ..."):
            where += step.start(ctx)
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
    ctx.console.print(f"settings for other processes: {env_file} (source it, or `set -a; . {env_file}`)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandkasse.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--detach", action="store_true", help="start, print, and exit leaving everything running")
    parser.add_argument("--stop", action="store_true", help="stop a detached demo")
    args = parser.parse_args(argv)

    ctx = DemoContext(settings=get_settings(), demo_dir=var_path("demo"), console=Console())
    if args.stop:
        stop_all(ctx, STEPS)
        return 0
    try:
        where = start_all(ctx, STEPS)
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
