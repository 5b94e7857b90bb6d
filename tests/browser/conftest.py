"""Browser tests of the egress web UI: the real service (uvicorn on a free loopback port), the real
Keycloak of the test bed (login through its own login page), and Debian's Chromium driven by
Playwright. Nothing is mocked.

The service runs with ``SANDKASSE_WEB_INSECURE_LOOPBACK=1`` because it is reached over plain HTTP on
127.0.0.1; the Keycloak client's registered redirect ``http://127.0.0.1/auth/callback`` matches any
loopback port (RFC 8252), so no client change is needed.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandkasse.settings import REPO_ROOT
from sandkasse.stack.process import free_port
from tests.testbed.uvicorn_process import uvicorn_app
from tests.testbed.keycloak_fixtures import KeycloakTestbed
from tests.testbed.settings_env import settings_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
PROJECT = "ui-study"
OTHER_PROJECT = "ui-other"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


@dataclass
class User:
    username: str
    password: str


@dataclass
class EgressUI:
    url: str
    var_dir: Path
    database_url: str
    token_key: bytes
    session_secret: str
    users: dict[str, User] = field(default_factory=dict)
    log: Path | None = None

    def project_token(self, username: str, project: str = PROJECT) -> str:
        from egress_review.identity.project_token import issue_project_token

        return issue_project_token(username, project, self.token_key, 600)

    def client(self, username: str, project: str = PROJECT):
        from egress_review.client import EgressClient

        return EgressClient(self.url, self.project_token(username, project))


def _provision(database_url: str, data_dir: Path) -> None:
    """The project, its members and a dataset, through provisioning's own functions."""
    from provisioning import db as pdb
    from provisioning import service
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    source = data_dir / "sick_leave.csv"
    source.write_text(
        "person_id,district,days\n"
        + "".join(f"PX{i:06d},{['Grefsen', 'Sagene', 'Frogner'][i % 3]},{5 + i % 40}\n" for i in range(300))
    )
    engine = make_engine(database_url)
    pdb.migrate(engine=engine)
    with session_scope(make_sessionmaker(engine)) as session:
        service.create_dataset(session, name="ui-sick-leave", source=source,
                               columns={"person_id": "direct_identifier", "district": "quasi_identifier",
                                        "days": "sensitive"}, description="synthetic sick leave")
        service.create_open_project(session, PROJECT, {"ui-rita": "researcher", "ui-mona": "lead"},
                                    title="Sick leave by district")
        service.grant(session, PROJECT, "ui-sick-leave", {"person_id": "pseudonymise", "district": "keep", "days": "keep"})
        service.create_open_project(session, OTHER_PROJECT, {"ui-otto": "researcher"}, title="Another study")
    engine.dispose()


@contextmanager
def serve_egress(keycloak: KeycloakTestbed, tmp: Path, users: dict[str, User],
                 extra_env: dict[str, str] | None = None) -> Iterator[EgressUI]:
    """The egress service on a free loopback port with its own var dir and database (the projects of
    :func:`_provision`), logging in through the test bed's Keycloak; ``extra_env`` adds settings (e.g.
    ``SANDKASSE_POLICIES_DIR``)."""
    var = tmp / "var"
    var.mkdir()
    database_url = f"sqlite:///{tmp / 'sandkasse.db'}"
    master_key = base64.b64encode(os.urandom(32)).decode()
    # provisioning's chain is sealed under the service's master key and shipped to its var dir
    with settings_env({"SANDKASSE_VAR_DIR": str(var), "SANDKASSE_MASTER_KEY": master_key}):
        _provision(database_url, tmp)
    token_key = secrets.token_urlsafe(32).encode()
    session_secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SANDKASSE_")},
        "SANDKASSE_VAR_DIR": str(var),
        "SANDKASSE_DATABASE_URL": database_url,
        "SANDKASSE_MASTER_KEY": master_key,
        "SANDKASSE_PROJECT_TOKEN_KEY": token_key.decode(),
        "SANDKASSE_KEYCLOAK_URL": keycloak.url,
        "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
        "SANDKASSE_EGRESS_CLIENT_SECRET": keycloak.client_secret("sandkasse-egress"),
        "SANDKASSE_SESSION_SECRET": session_secret,
        "SANDKASSE_WEB_INSECURE_LOOPBACK": "1",
        **(extra_env or {}),
    }
    log = tmp / "egress.log"
    with uvicorn_app("egress_review.app:create_app", port, env, log, what="egress service", cwd=REPO_ROOT) as (url, proc):
        yield EgressUI(url, var, database_url, token_key, session_secret, users, log)


@pytest.fixture(scope="session")
def egress_ui(keycloak: KeycloakTestbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EgressUI]:
    tmp = tmp_path_factory.mktemp("egress-ui")
    # Fresh passwords per run; the accounts themselves are reused across runs of the shared Keycloak.
    roles = {
        "ui-rita": ["researcher"], "ui-otto": ["researcher"], "ui-chris": ["output-checker"],
        "ui-cora": ["output-checker"], "ui-mona": ["output-checker", "researcher"], "ui-ada": ["admin"],
        "ui-carla": ["output-checker"],
    }
    users = {}
    for name, rs in roles.items():
        password = secrets.token_urlsafe(16)
        keycloak.create_user(name, password, realm_roles=rs)
        users[name] = User(name, password)
    with serve_egress(keycloak, tmp, users) as ui:
        yield ui


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread
# while it is open, which would break later tests (in the same run) that start their own loop.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class LoggedIn:
    """One user's browser context, logged in through Keycloak's real login page."""

    def __init__(self, browser, ui: EgressUI, username: str) -> None:
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1366, "height": 900},
                                           locale="en-GB")
        self.page = self.context.new_page()
        self.ui = ui
        self.user = ui.users[username]

    def login(self, path: str = "/") -> LoggedIn:
        page = self.page
        page.goto(self.ui.url + path)
        page.wait_for_selector("#kc-form-login", timeout=30000)  # Keycloak's own page
        page.fill("#username", self.user.username)
        page.fill("#password", self.user.password)
        page.click("#kc-login")
        page.wait_for_url(self.ui.url + "/**", timeout=30000)
        return self

    def csrf(self) -> str:
        return self.page.locator("input[name=csrf]").first.get_attribute("value")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def login(browser, egress_ui):
    opened: list[LoggedIn] = []

    def _login(username: str, path: str = "/") -> LoggedIn:
        session = LoggedIn(browser, egress_ui, username).login(path)
        opened.append(session)
        return session

    yield _login
    for s in opened:
        s.close()
