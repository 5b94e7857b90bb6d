"""``sandkasse init``: the stack's .env has every secret, strong and distinct, readable only by its
owner, and a second run never changes a value."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandkasse.cli import app
from sandkasse.init_env import ENTRIES, ensure_env, read_env, write_env
from sandkasse.keys import decode_key
from sandkasse.stack.compose_init import client_settings

pytestmark = pytest.mark.unit

SECRETS = [e.name for e in ENTRIES if e.secret]


def test_init_writes_every_secret_with_mode_600(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    result = CliRunner().invoke(app, ["init", "--env-file", str(env)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    values = read_env(env)
    for name in (
        "POSTGRES_PASSWORD", "SANDKASSE_DB_PASSWORD", "KEYCLOAK_DB_PASSWORD", "SANDKASSE_MASTER_KEY",
        "SANDKASSE_PROJECT_TOKEN_KEY", "SANDKASSE_HUB_CLIENT_SECRET", "SANDKASSE_EGRESS_CLIENT_SECRET",
        "SANDKASSE_PORTAL_CLIENT_SECRET", "SANDKASSE_PORTAL_SESSION_SECRET", "JUPYTERHUB_CRYPT_KEY", "JUPYTERHUB_COOKIE_SECRET", "KEYCLOAK_ADMIN_PASSWORD",
    ):  # fmt: skip
        assert name in SECRETS and values.get(name), name
    secrets_ = [values[n] for n in SECRETS]
    assert len(set(secrets_)) == len(secrets_), "two secrets share a value"
    assert all(len(v) >= 16 for v in secrets_)
    assert len(decode_key(values["SANDKASSE_MASTER_KEY"])) == 32
    assert len(base64.urlsafe_b64decode(values["JUPYTERHUB_CRYPT_KEY"])) == 32  # JupyterHub's CryptKeeper
    assert len(bytes.fromhex(values["JUPYTERHUB_COOKIE_SECRET"])) == 32
    # values docker-compose and JDBC take as they are: no quoting, no spaces, no '$'
    assert all(re.fullmatch(r"[A-Za-z0-9_=+/.-]+", v) for v in values.values())


def test_each_run_draws_new_secrets(tmp_path: Path) -> None:
    a, b = ensure_env(tmp_path / "a.env"), ensure_env(tmp_path / "b.env")
    assert not {a[n] for n in SECRETS} & {b[n] for n in SECRETS}


def test_a_second_run_keeps_values_and_adds_what_is_missing(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    first = ensure_env(env)
    env.write_text("\n".join(ln for ln in env.read_text().splitlines() if not ln.startswith("SANDKASSE_SESSION_SECRET=")) + "\nMY_OWN=1\n")
    env.chmod(0o644)
    assert write_env(env) == 0
    second = read_env(env)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert all(second[k] == v for k, v in first.items() if k != "SANDKASSE_SESSION_SECRET")
    assert second["SANDKASSE_SESSION_SECRET"] and second["SANDKASSE_SESSION_SECRET"] != first["SANDKASSE_SESSION_SECRET"]
    assert second["MY_OWN"] == "1"


def test_overrides_set_placement_but_never_replace_a_secret(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    values = ensure_env(env, {"SANDKASSE_HTTPS_PORT": "9443"})
    assert values["SANDKASSE_HTTPS_PORT"] == "9443" and read_env(env)["SANDKASSE_HTTPS_PORT"] == "9443"
    with pytest.raises(ValueError, match="SANDKASSE_MASTER_KEY"):
        ensure_env(env, {"SANDKASSE_MASTER_KEY": "x"})
    assert read_env(env)["SANDKASSE_MASTER_KEY"] == values["SANDKASSE_MASTER_KEY"]


def test_keycloak_clients_get_the_secrets_and_the_public_redirects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDKASSE_EGRESS_HTTPS_PORT", raising=False)
    monkeypatch.setenv("SANDKASSE_HUB_CLIENT_SECRET", "hub-secret")
    monkeypatch.setenv("SANDKASSE_EGRESS_CLIENT_SECRET", "egress-secret")
    monkeypatch.delenv("SANDKASSE_PORTAL_HTTPS_PORT", raising=False)
    monkeypatch.setenv("SANDKASSE_PORTAL_CLIENT_SECRET", "portal-secret")
    wanted = client_settings("https://tre.kommune.no:8443/")
    # the application portal (issue 20): its own origin too, its callback only
    assert wanted["sandkasse-portal"]["secret"] == "portal-secret"
    assert wanted["sandkasse-portal"]["redirectUris"] == ["https://tre.kommune.no:8445/auth/callback"]
    assert wanted["sandkasse-hub"]["secret"] == "hub-secret"
    assert wanted["sandkasse-hub"]["redirectUris"] == ["https://tre.kommune.no:8443/hub/oauth_callback"]
    assert wanted["sandkasse-egress"]["secret"] == "egress-secret"
    # The egress UI has its own origin (issue 15.2): same host, its own port.
    assert wanted["sandkasse-egress"]["redirectUris"] == ["https://tre.kommune.no:8444/*"]
    assert wanted["sandkasse-egress"]["webOrigins"] == ["https://tre.kommune.no:8444"]
    assert wanted["sandkasse-hub"]["webOrigins"] == ["https://tre.kommune.no:8443"]
