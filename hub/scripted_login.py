"""Log in to the hub through Keycloak's real login page without a browser: the authorization code flow
as a browser runs it (hub → Keycloak login form → POST credentials → hub callback), with one cookie
jar. Used by the tests and by the demo's smoke check; a real browser test exists separately."""

from __future__ import annotations

import html
import re
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlparse

import httpx

_FORM = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LoopbackIsSecurePolicy(DefaultCookiePolicy):
    """Browsers treat http://127.0.0.1 as a secure context and send ``Secure`` cookies there (Keycloak
    sets its login session cookies ``Secure``); Python's cookie jar does not, so say it explicitly."""

    def return_ok_secure(self, cookie, request) -> bool:
        if urlparse(request.get_full_url()).hostname in LOOPBACK:
            return True
        return super().return_ok_secure(cookie, request)


def browser_client(**kwargs) -> httpx.Client:
    """An httpx client that keeps cookies the way a browser on this machine would."""
    kwargs.setdefault("trust_env", False)
    jar = CookieJar(policy=LoopbackIsSecurePolicy())

    def cookie_header(request: httpx.Request) -> None:
        # httpx copies the jar into one with the default policy when it builds a request, which
        # drops the Secure cookies again; recompute the header from our own jar.
        request.headers.pop("cookie", None)
        jar.add_cookie_header(httpx.Cookies._CookieCompatRequest(request))

    return httpx.Client(cookies=jar, event_hooks={"request": [cookie_header]}, **kwargs)


class LoginFailed(RuntimeError):
    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


def hub_login(client: httpx.Client, hub_url: str, username: str, password: str) -> httpx.Response:
    """Log ``username`` in; ``client`` keeps the hub's cookies afterwards. Returns the final response
    (the hub page the login lands on). Raises :class:`LoginFailed` when Keycloak shows its form again
    (wrong password) or the hub refuses the user (403)."""
    start = client.get(f"{hub_url.rstrip('/')}/hub/oauth_login", follow_redirects=True)
    match = _FORM.search(start.text)
    if not match:
        raise LoginFailed(f"no Keycloak login form at {start.url} ({start.status_code})", start)
    action = html.unescape(match.group(1))
    done = client.post(action, data={"username": username, "password": password, "credentialId": ""}, follow_redirects=True)
    if _FORM.search(done.text):
        raise LoginFailed("Keycloak did not accept the credentials", done)
    if done.status_code >= 400:
        raise LoginFailed(f"the hub refused the login: {done.status_code}", done)
    return done
