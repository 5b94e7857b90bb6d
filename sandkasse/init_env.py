"""``sandkasse init``: the ``.env`` that docker-compose reads, with strong random secrets.

Nothing secret is committed: every password and key is generated here, on the machine that runs the
stack, and written to a file only its owner can read (mode 600). Running ``init`` again keeps the
values already in the file (changing a database password or the master key under a running stack
would lock the services out of their data) and only adds what is missing, so an upgrade that
introduces a new secret needs nothing more than another ``sandkasse init``. Rotation is a deliberate
act described in docs/deploy.md, not a side effect of this command.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandkasse.keys import encode_key, generate_key


def _token(nbytes: int = 32) -> Callable[[], str]:
    # URL-safe so the value survives docker-compose's .env parsing, JDBC URLs and shell quoting.
    return lambda: secrets.token_urlsafe(nbytes)


def _hex(nbytes: int = 32) -> Callable[[], str]:
    return lambda: secrets.token_hex(nbytes)


def _crypt_keys() -> str:
    # JupyterHub's CryptKeeper reads a ';'-separated list of 32-byte keys (hex or base64); the first
    # encrypts, all decrypt, which is how the key is rotated (docs/deploy.md).
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class EnvEntry:
    name: str
    make: Callable[[], str]
    why: str
    secret: bool = True


ENTRIES: list[EnvEntry] = [
    # Where the stack listens. Not secret; edit them here, `init` never overwrites them.
    EnvEntry("SANDKASSE_PUBLIC_HOST", lambda: "localhost", "host name in the browser (TLS certificate, redirect URIs)", False),
    EnvEntry("SANDKASSE_HTTPS_PORT", lambda: "8443", "port the proxy publishes for HTTPS", False),
    EnvEntry("SANDKASSE_EGRESS_HTTPS_PORT", lambda: "8444", "port the proxy publishes the egress review UI on (its own origin)", False),
    EnvEntry("SANDKASSE_PORTAL_HTTPS_PORT", lambda: "8445", "port the proxy publishes the application portal on (its own origin)", False),
    EnvEntry("SANDKASSE_BIND_ADDRESS", lambda: "127.0.0.1", "address the proxy publishes on; 0.0.0.0 to serve the network", False),
    EnvEntry("SANDKASSE_DEMO", lambda: "1", "1: seed the demo users and projects on start; 0 in production", False),
    EnvEntry("SANDKASSE_DATA_DIR", lambda: "/var/lib/sandkasse", "host folder: extracts, quarantine, releases, signing keys", False),
    # Ports on the host. Loopback only: hub (behind the proxy), Keycloak, PostgreSQL. On every
    # address but admitted from sandbox bridges only by the hub's firewall: the hub API and egress.
    EnvEntry("SANDKASSE_HUB_PORT", lambda: "8000", "hub's own proxy (loopback; the TLS proxy forwards to it)", False),
    EnvEntry("SANDKASSE_HUB_PROXY_API_PORT", lambda: "8001", "configurable-http-proxy's REST API (loopback)", False),
    EnvEntry("SANDKASSE_HUB_API_PORT", lambda: "8081", "hub API that notebook servers call", False),
    EnvEntry("SANDKASSE_EGRESS_PORT", lambda: "8090", "egress service (notebooks submit here; the proxy serves it on SANDKASSE_EGRESS_HTTPS_PORT)", False),
    EnvEntry("SANDKASSE_PORTAL_PORT", lambda: "8095", "application portal (loopback; the proxy serves it on SANDKASSE_PORTAL_HTTPS_PORT)", False),
    EnvEntry("SANDKASSE_KEYCLOAK_PORT", lambda: "8180", "Keycloak (loopback; the proxy serves /auth/)", False),
    EnvEntry("SANDKASSE_POSTGRES_PORT", lambda: "15432", "PostgreSQL (loopback)", False),
    # Database (PostgreSQL): one superuser for maintenance, one role per application database.
    EnvEntry("POSTGRES_PASSWORD", _token(), "PostgreSQL superuser (maintenance only; no service uses it)"),
    EnvEntry("SANDKASSE_DB_PASSWORD", _token(), "role `sandkasse`: provisioning and egress tables"),
    EnvEntry("KEYCLOAK_DB_PASSWORD", _token(), "role `keycloak`: Keycloak's own database"),
    EnvEntry("JUPYTERHUB_DB_PASSWORD", _token(), "role `jupyterhub`: JupyterHub's state"),
    # Keys.
    EnvEntry("SANDKASSE_MASTER_KEY", lambda: encode_key(generate_key()), "wraps per-project pseudonymisation keys and per-file data keys"),
    EnvEntry("SANDKASSE_HUB_AUDIT_KEY", lambda: encode_key(generate_key()), "seals the hub's audit stream (the hub never gets the master key)"),
    EnvEntry("SANDKASSE_PROJECT_TOKEN_KEY", lambda: encode_key(generate_key()), "signs the per-(user, project) egress credentials given to notebooks"),
    # OAuth clients in the Keycloak realm `sandkasse`; `init` in the stack sets them in Keycloak.
    EnvEntry("SANDKASSE_HUB_CLIENT_SECRET", _token(), "OAuth client secret of `sandkasse-hub`"),
    EnvEntry("SANDKASSE_EGRESS_CLIENT_SECRET", _token(), "OAuth client secret of `sandkasse-egress`"),
    EnvEntry("SANDKASSE_PORTAL_CLIENT_SECRET", _token(), "OAuth client secret of `sandkasse-portal`"),
    # JupyterHub.
    EnvEntry("JUPYTERHUB_CRYPT_KEY", _crypt_keys, "encrypts auth state (the users' tokens) in the hub database"),
    EnvEntry("JUPYTERHUB_COOKIE_SECRET", _hex(32), "signs the hub's cookies"),
    EnvEntry("CONFIGPROXY_AUTH_TOKEN", _hex(32), "the hub's token for its routing proxy"),
    # The egress service's browser session.
    EnvEntry("SANDKASSE_SESSION_SECRET", _token(), "signs the egress review UI's session cookie"),
    EnvEntry("SANDKASSE_PORTAL_SESSION_SECRET", _token(), "signs the application portal's session cookie (not the egress UI's)"),
    # Keycloak's bootstrap administrator (master realm).
    EnvEntry("KEYCLOAK_ADMIN_PASSWORD", _token(), "Keycloak bootstrap admin `admin` (master realm)"),
    # Demo users (only used when SANDKASSE_DEMO=1).
    EnvEntry("SANDKASSE_DEMO_PASSWORD", _token(12), "password of every demo user (ingrid, ola, kari, per, anne)"),
]


def read_env(path: Path) -> dict[str, str]:
    """The ``KEY=value`` pairs of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def render_env(values: dict[str, str]) -> str:
    lines = [
        "# Sandkasse stack settings and secrets, generated by `sandkasse init`.",
        "# Keep this file mode 600 and out of version control; back it up with the database (docs/deploy.md).",
        "",
    ]
    known = {e.name for e in ENTRIES}
    for entry in ENTRIES:
        lines.append(f"# {entry.why}")
        lines.append(f"{entry.name}={values[entry.name]}")
    extra = sorted(k for k in values if k not in known)
    if extra:  # the operator's own additions survive a re-run
        lines += ["", "# added by the operator"]
        lines += [f"{k}={values[k]}" for k in extra]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 600 from the first byte (no window where others can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    path.chmod(0o600)


def ensure_env(path: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Create or complete the env file at ``path``; returns every value in it.

    ``overrides`` sets non-secret values (ports, host) and wins over the file; secrets already in the
    file are never replaced."""
    values = read_env(path)
    secret_names = {e.name for e in ENTRIES if e.secret}
    for key in overrides or {}:
        if key in secret_names and key in values:
            raise ValueError(f"{key} is a secret already set in {path}; rotate it as docs/deploy.md says")
    added = [e.name for e in ENTRIES if e.name not in values]
    for entry in ENTRIES:
        if entry.name not in values:
            values[entry.name] = entry.make()
    values.update(overrides or {})
    if added or overrides or not path.exists() or stat.S_IMODE(path.stat().st_mode) != 0o600:
        _write_private(path, render_env(values))
    return values


def write_env(path: str | Path) -> int:
    """The ``sandkasse init`` command: returns the process exit code."""
    target = Path(path)
    existed = target.exists()
    before = set(read_env(target))
    try:
        ensure_env(target)
    except OSError as exc:
        print(f"cannot write {target}: {exc}", file=sys.stderr)
        return 1
    added = [e.name for e in ENTRIES if e.name not in before]
    if not existed:
        print(f"wrote {target} (mode 600) with {len(ENTRIES)} settings and fresh secrets")
    elif added:
        print(f"kept the values in {target}; added {', '.join(added)}")
    else:
        print(f"{target} is complete; nothing changed (secrets are never regenerated by init)")
    return 0

