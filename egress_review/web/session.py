"""The egress UI's session cookies and CSRF tokens: the shared machinery of :mod:`sandkasse.web.session`."""

from sandkasse.web.session import (  # noqa: F401 - re-exported for the egress UI and its tests
    LANG_COOKIE,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    CookieBox,
    WebSession,
    cookie_path,
    csrf_ok,
    derive_key,
    is_loopback,
)
