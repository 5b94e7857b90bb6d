"""The production stack (``docker-compose.yml``) on this machine: build every image locally, then run
Debian's ``docker-compose`` with their tags.

There is no registry here, so nothing is pulled: the service images build on a Debian bookworm root
filesystem made by debootstrap with the packages they need (PostgreSQL, a JRE for Keycloak, nginx,
HAProxy, configurable-http-proxy), the Python images on the plain base with a host-built wheelhouse.
Each tag is a hash of what goes in (``sandkasse.stack.images.build_image``), so a second ``up``
rebuilds nothing. Where official images are available, set ``SANDKASSE_<NAME>_BASE_IMAGE`` (e.g.
``SANDKASSE_POSTGRES_BASE_IMAGE=postgres:15-bookworm``) and that image is the Dockerfile's
``BASE_IMAGE`` instead of the local root filesystem.

    python -m sandkasse.stack.compose build            # images only; prints the tags
    python -m sandkasse.stack.compose up [-p NAME]     # build, then docker-compose up -d, wait for health
    python -m sandkasse.stack.compose ps|logs|down [-p NAME] [--volumes]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandkasse.init_env import ensure_env, read_env
from sandkasse.settings import REPO_ROOT
from sandkasse.stack.base_image import ensure_base_image
from sandkasse.stack.docker_engine import ensure_docker
from sandkasse.stack.images import build_image
from sandkasse.stack.process import StackError, log_path, run, var_path
from sandkasse.stack.wheelhouse import build_project_wheel, ensure_wheelhouse

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DEFAULT_PROJECT = "sandkasse"
KEYCLOAK_VERSION = "26.4.7"
KEYCLOAK_TARBALL = f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.tar.gz"
REALM_FILE = REPO_ROOT / "provisioning" / "keycloak" / "realm-sandkasse.json"

# Debian packages of the service images' root filesystem. One variant for all of them: one
# debootstrap instead of five, and the layer is shared on disk. Each image still runs only its own
# program, as its own user, with its own health check.
SERVICE_PACKAGES = [
    "postgresql-15",
    "openjdk-17-jre-headless",
    "nginx-light",
    "openssl",
    "haproxy",
    "node-configurable-http-proxy",
    "node-fast-safe-stringify",  # provides node-safe-stable-stringify, a virtual package debootstrap cannot resolve
    "iptables",  # the hub installs the sandbox firewall (hub/firewall.py) ...
    "iproute2",  # ... and removes each sandbox's default route (nsenter + ip)
]

UP_TIMEOUT = 600.0
HEALTH_TIMEOUT = 300.0
# Services that run for good (the one-shot `init` is checked by its exit code instead).
LONG_RUNNING = ["postgres", "keycloak", "egress", "portal", "hub", "proxy"]


@dataclass
class StackImages:
    """Image tags by the variable docker-compose.yml reads them from."""

    tags: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return dict(self.tags)


def server_requirements() -> list[str]:
    """The sandkasse distribution's own dependencies (hub, egress, provisioning share them)."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def keycloak_tarball() -> Path:
    """The Keycloak distribution tarball (cached by the test bed's Keycloak module, fetched with Maven)."""
    from sandkasse.stack.keycloak_server import fetch_distribution

    return fetch_distribution(KEYCLOAK_VERSION)


def _base(name: str, local: str) -> str:
    """``SANDKASSE_<NAME>_BASE_IMAGE`` when set (an official image), else the local root filesystem."""
    return os.environ.get(f"SANDKASSE_{name.upper().replace('-', '_')}_BASE_IMAGE") or local


def build_stack_images(*, with_notebook: bool = True) -> StackImages:
    """Build (or find cached) every image of the stack; returns their tags."""
    ensure_docker()
    services_base = ""
    if not all(os.environ.get(f"SANDKASSE_{n}_BASE_IMAGE") for n in ("POSTGRES", "KEYCLOAK", "PROXY", "HUB")):
        services_base = ensure_base_image(include=SERVICE_PACKAGES)
    python_base = os.environ.get("SANDKASSE_PYTHON_BASE_IMAGE") or ensure_base_image()

    wheels = ensure_wheelhouse(server_requirements(), "server")
    project = var_path("cache", "project-wheel")
    build_project_wheel(project)
    requirements = var_path("cache", "compose") / "server-requirements.txt"
    requirements.write_text("\n".join(server_requirements()) + "\n")
    policies = REPO_ROOT / "policies"

    images = StackImages()
    images.tags["SANDKASSE_POSTGRES_IMAGE"] = build_image("postgres", build_args={"BASE_IMAGE": _base("postgres", services_base)})
    kc_args = {"BASE_IMAGE": _base("keycloak", services_base)}
    kc_files: dict[str, Path] = {"realm-sandkasse.json": REALM_FILE}
    if not os.environ.get("SANDKASSE_KEYCLOAK_BASE_IMAGE"):  # the official image has /opt/keycloak already
        kc_args["KEYCLOAK_DIST"] = KEYCLOAK_TARBALL
        kc_files[KEYCLOAK_TARBALL] = keycloak_tarball()
    if not REALM_FILE.exists():
        raise StackError(f"the realm file {REALM_FILE} is missing")
    images.tags["SANDKASSE_KEYCLOAK_IMAGE"] = build_image("keycloak", build_args=kc_args, context_files=kc_files)
    images.tags["SANDKASSE_PROXY_IMAGE"] = build_image("proxy", build_args={"BASE_IMAGE": _base("proxy", services_base)})
    python_files = {"wheels": wheels, "project": project, "requirements.txt": requirements, "policies": policies}
    # the egress image also serves the portal, whose DPIA drafts quote the TRE's controls from docs/security.md
    egress_files = {**python_files, "security.md": REPO_ROOT / "docs" / "security.md"}
    images.tags["SANDKASSE_EGRESS_IMAGE"] = build_image("egress", build_args={"BASE_IMAGE": python_base}, context_files=egress_files)
    images.tags["SANDKASSE_HUB_IMAGE"] = build_image(
        "hub", build_args={"BASE_IMAGE": _base("hub", services_base), "BUILD_IMAGE": python_base}, context_files=python_files
    )
    if with_notebook:
        from hub.images import ensure_notebook_image

        images.tags["SANDKASSE_NOTEBOOK_IMAGE"] = ensure_notebook_image(os.environ.get("SANDKASSE_PYTHON_BASE_IMAGE"))
    return images


def build_docker_api_filter_image() -> str:
    """The Docker API filter (``images/hub/docker-api``): not a service of the stack while the hub needs
    host privileges for the sandbox firewall (docs/architecture.md), built and tested so it is ready
    when that moves to a node agent."""
    services_base = os.environ.get("SANDKASSE_DOCKER_API_BASE_IMAGE") or ensure_base_image(include=SERVICE_PACKAGES)
    return build_image("docker-api", build_args={"BASE_IMAGE": services_base}, images_dir=REPO_ROOT / "images" / "hub")


@dataclass
class ComposeStack:
    """One deployment of ``docker-compose.yml``: a compose project name, its ``.env`` and data folder."""

    project: str = DEFAULT_PROJECT
    env_file: Path = REPO_ROOT / ".env"
    compose_file: Path = COMPOSE_FILE
    images: StackImages = field(default_factory=StackImages)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, str]:
        return {**read_env(self.env_file), **self.extra_env}

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.get("SANDKASSE_DATA_DIR") or "/var/lib/sandkasse")

    @property
    def public_url(self) -> str:
        s = self.settings
        return f"https://{s.get('SANDKASSE_PUBLIC_HOST', 'localhost')}:{s.get('SANDKASSE_HTTPS_PORT', '8443')}"

    @property
    def egress_url(self) -> str:
        """The egress review UI's own origin (issue 15.2): same host, its own port."""
        s = self.settings
        return f"https://{s.get('SANDKASSE_PUBLIC_HOST', 'localhost')}:{s.get('SANDKASSE_EGRESS_HTTPS_PORT', '8444')}"

    @property
    def portal_url(self) -> str:
        """The application portal's own origin (issue 20): same host, its own port."""
        s = self.settings
        return f"https://{s.get('SANDKASSE_PUBLIC_HOST', 'localhost')}:{s.get('SANDKASSE_PORTAL_HTTPS_PORT', '8445')}"

    def environment(self) -> dict[str, str]:
        # The process environment wins over .env in docker-compose; only what we set on purpose
        # (image tags, per-run overrides) goes there.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDKASSE_") or k.endswith("_BASE_IMAGE")}
        env.update(self.images.env())
        env.update(self.extra_env)
        env["COMPOSE_PROJECT_NAME"] = self.project
        return env

    def compose(self, *args: str, timeout: float = UP_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "--ansi", "never", "-p", self.project, "-f", str(self.compose_file), "--env-file", str(self.env_file), *args]
        if shutil.which("docker-compose") is None:
            raise StackError("docker-compose is not installed (apt-get install docker-compose)")
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.environment(), cwd=REPO_ROOT)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"`docker-compose {' '.join(args)}` took more than {timeout:.0f} s") from exc
        with log_path(f"compose-{self.project}").open("a") as log:
            log.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise StackError(
                f"`docker-compose {' '.join(args)}` failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}"
                f"\n{self.logs_tail()}"
            )
        return result

    def prepare(self) -> None:
        """``.env`` complete (``sandkasse init``) and the data folder owned by the services' user."""
        ensure_env(self.env_file)
        data = self.data_dir
        data.mkdir(parents=True, exist_ok=True)
        os.chown(data, 10001, 10001)  # uid of the `sandkasse` user in the hub and egress images
        data.chmod(0o750)

    def up(self, *, build: bool = True, timeout: float = UP_TIMEOUT) -> None:
        self.prepare()
        if build and not self.images.tags:
            self.images = build_stack_images()
        self.compose("up", "-d", "--no-build", "--remove-orphans", timeout=timeout)
        self.wait_healthy(timeout=timeout)

    def containers(self) -> dict[str, dict]:
        """Inspect data of this project's containers by service name (one container per service)."""
        dc = ensure_docker()
        found: dict[str, dict] = {}
        for c in dc.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"}):
            service = c.labels.get("com.docker.compose.service", "")
            found[service] = c.attrs
        return found

    def health(self) -> dict[str, str]:
        states: dict[str, str] = {}
        for service, attrs in self.containers().items():
            state = attrs["State"]
            states[service] = (state.get("Health") or {}).get("Status") or state.get("Status", "?")
            if service == "init":
                states[service] = "done" if state.get("Status") == "exited" and state.get("ExitCode") == 0 else state.get("Status", "?")
        return states

    def wait_healthy(self, *, timeout: float = HEALTH_TIMEOUT, services: Sequence[str] = LONG_RUNNING) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            states = self.health()
            if all(states.get(s) == "healthy" for s in services) and states.get("init") == "done":
                return states
            broken = [s for s, st in states.items() if st in {"unhealthy", "exited", "dead"} and s != "init"]
            if broken or time.monotonic() > deadline:
                why = f"unhealthy: {broken}" if broken else f"not healthy after {timeout:.0f} s"
                raise StackError(f"compose project {self.project} {why}: {states}\n{self.logs_tail()}")
            time.sleep(2)

    def logs_tail(self, lines: int = 40) -> str:
        try:
            out = subprocess.run(
                ["docker-compose", "--ansi", "never", "-p", self.project, "-f", str(self.compose_file), "--env-file", str(self.env_file),
                 "logs", "--no-color", f"--tail={lines}"],
                capture_output=True, text=True, timeout=60, env=self.environment(), cwd=REPO_ROOT,
            )  # fmt: skip
            return out.stdout[-max(8000, lines * 300):]
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"

    def down(self, *, volumes: bool = False, timeout: float = 180) -> None:
        args = ["down", "--remove-orphans", "-t", "20"]
        if volumes:
            args.append("-v")
        self.compose(*args, timeout=timeout)


def _print_tags(images: StackImages) -> None:
    print(json.dumps(images.tags, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandkasse.stack.compose", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "up", "down", "ps", "logs"])
    parser.add_argument("-p", "--project", default=DEFAULT_PROJECT, help="compose project name")
    parser.add_argument("--env-file", default=str(REPO_ROOT / ".env"))
    parser.add_argument("--volumes", action="store_true", help="down: also remove the volumes (all data!)")
    args = parser.parse_args(argv)
    stack = ComposeStack(project=args.project, env_file=Path(args.env_file))
    try:
        if args.command == "build":
            _print_tags(build_stack_images())
        elif args.command == "up":
            stack.up()
            print(f"Sandkasse is up: {stack.public_url}/  (egress review: {stack.egress_url}/, application portal: {stack.portal_url}/, Keycloak admin: {stack.public_url}/auth/admin/)")
            for service, state in sorted(stack.health().items()):
                print(f"  {service:12s} {state}")
        elif args.command == "down":
            stack.down(volumes=args.volumes)
        elif args.command == "ps":
            print(stack.compose("ps").stdout)
        elif args.command == "logs":
            print(stack.logs_tail(200))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
