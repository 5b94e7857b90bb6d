"""Start the hub on this host: ``python -m hub.run`` (foreground) or :func:`start_hub` (background,
for the demo and the tests). The hub must run as root on the host: it installs the sandbox firewall
and enters containers' network namespaces to remove their default route."""

from __future__ import annotations

from collections.abc import Sequence

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.settings import HubSettings
from sandkasse.settings import REPO_ROOT
from sandkasse.stack.process import stop_pid_file

CONFIG_FILE = REPO_ROOT / "hub" / "jupyterhub_config.py"


def crypt_key(state_dir: Path) -> str:
    """The auth_state encryption key: ``JUPYTERHUB_CRYPT_KEY`` when set, else one kept (mode 600)
    in the hub's state folder."""
    if os.environ.get("JUPYTERHUB_CRYPT_KEY"):
        return os.environ["JUPYTERHUB_CRYPT_KEY"]
    path = state_dir / "crypt_key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


MASTER_KEY_SETTINGS = ("SANDKASSE_MASTER_KEY", "SANDKASSE_MASTER_KEY_FILE")


def hub_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    # The hub wraps no key and seals only its own stream (SANDKASSE_HUB_AUDIT_KEY): the master key,
    # which unwraps every project's and every file's key, stays with provisioning and egress.
    for name in MASTER_KEY_SETTINGS:
        env.pop(name, None)
    settings = HubSettings(**{k[len("SANDKASSE_HUB_"):].lower(): v for k, v in (extra or {}).items() if k.startswith("SANDKASSE_HUB_")})
    env["JUPYTERHUB_CRYPT_KEY"] = crypt_key(settings.state_dir)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass
class HubProcess:
    proc: subprocess.Popen
    url: str
    api_url: str
    admin_token: str
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def api(self, timeout: float = 30.0) -> httpx.Client:
        """A REST client for the hub API with the admin service token."""
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"token {self.admin_token}"}, timeout=timeout, trust_env=False)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_hub(
    env: dict[str, str] | None = None, *, timeout: float = 90.0, log_path: Path | None = None, argv_prefix: Sequence[str] = ()
) -> HubProcess:
    """Start JupyterHub in the background with ``env`` (``SANDKASSE_*`` variables) on top of this
    process's environment, and wait until it answers. The returned handle carries an admin service
    token (``SANDKASSE_HUB_ADMIN_TOKEN``, generated when not given). ``argv_prefix`` runs it under a
    wrapper (the node agent's tests take capabilities away with ``setpriv``)."""
    extra = dict(env or {})
    extra.setdefault("SANDKASSE_HUB_ADMIN_TOKEN", secrets.token_hex(24))
    full_env = hub_environment(extra)
    settings = HubSettings(**{k[len("SANDKASSE_HUB_"):].lower(): v for k, v in extra.items() if k.startswith("SANDKASSE_HUB_")})
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or settings.state_dir / "jupyterhub.log"
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [*argv_prefix, sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)],
        cwd=str(settings.state_dir),
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{settings.port}"
    handle = HubProcess(proc, url, f"{url}/hub/api", extra["SANDKASSE_HUB_ADMIN_TOKEN"], log_path, full_env)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {proc.returncode}; see {log_path}:\n{log_path.read_text()[-3000:]}")
            try:
                if client.get(f"{url}/hub/health").status_code == 200:
                    return handle
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    handle.stop()
    raise RuntimeError(f"JupyterHub did not answer on {url} within {timeout:.0f} s; see {log_path}")


def stop_hub(state_dir: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop a hub started earlier (e.g. by a detached demo) through its pid file; True if one ran.
    JupyterHub stops its servers on the way out (``cleanup_servers``)."""
    return stop_pid_file((state_dir or HubSettings().state_dir) / "jupyterhub.pid", timeout)


def main() -> None:
    """Foreground hub with the settings of the environment."""
    env = hub_environment()
    os.execvpe(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)], env)


if __name__ == "__main__":
    main()
