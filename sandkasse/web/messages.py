"""Message catalogues of the web UIs: every label in English (the default) and Norwegian bokmål.

:data:`BASE` holds the labels of the shared layout, login and error pages; each UI merges its own
labels over it with :func:`catalogue`. Each UI's unit tests check that both languages have the same
keys and the same ``{placeholders}``."""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = {"en": "English", "nb": "Norsk"}

BASE: dict[str, dict[str, str]] = {
    "en": {
        "nav.skip": "Skip to content",
        "nav.logout": "Log out",
        "nav.language": "Language",
        "nav.signed_in_as": "Signed in as {user}",
        "error.title": "Not possible",
        "error.back": "Back",
        "error.session_ended": "Your session has ended; log in again and repeat the action.",
        "error.csrf": "The form was not accepted (its security token is missing or stale). Reload the page and try again.",
        "error.login_state": "The login could not be matched to this browser; start again.",
    },
    "nb": {
        "nav.skip": "Hopp til innholdet",
        "nav.logout": "Logg ut",
        "nav.language": "Språk",
        "nav.signed_in_as": "Innlogget som {user}",
        "error.title": "Ikke mulig",
        "error.back": "Tilbake",
        "error.session_ended": "Økten din er utløpt; logg inn igjen og gjenta handlingen.",
        "error.csrf": "Skjemaet ble ikke godtatt (sikkerhetsnøkkelen mangler eller er utløpt). Last siden på nytt og prøv igjen.",
        "error.login_state": "Innloggingen kunne ikke knyttes til denne nettleseren; begynn på nytt.",
    },
}


def catalogue(own: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """:data:`BASE` with a UI's own labels over it, per language."""
    return {lang: {**BASE.get(lang, {}), **own.get(lang, {})} for lang in LANGUAGES}


def translate(messages: Mapping[str, Mapping[str, str]], lang: str, key: str, **values: object) -> str:
    table = messages.get(lang) or messages["en"]
    text = table.get(key) or messages["en"].get(key) or key
    return text.format(**values) if values else text
