"""Direct identifiers in text: Norwegian national identity numbers (fødselsnummer, D-number), e-mail
addresses, phone numbers, and the values of the project's direct-identifier columns.

National identity numbers are only reported when both mod-11 check digits are right, so an arbitrary
11-digit number (an amount, a case number) is not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from egress_review.checks.policy import IdentifierRule

_W1 = np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])
_W2 = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])

# 11 digits not embedded in a longer digit run; an optional space between date and personal number.
# Not glued to a longer number by a separator either ("2025-01-10 12345..." is a date and a count).
_NID_RE = re.compile(r"(?<!\d)(?<!\d[.,:/-])(\d{6})[ ]?(\d{5})(?!\d|[.,:/-]\d)")
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Norwegian numbers as they are written: 8 digits starting 2-9, bare or grouped 2-2-2-2 / 3-2-3 with one
# kind of separator, optionally +47/0047. Never part of a longer run of digits and separators, so a
# date (2025-01-10, 10.01.2025), a time, a year range (2019-2025) or a postcode and a count never match.
_PHONE_RE = re.compile(
    r"(?<![\w+])(?<![\d][.,:/-])(?<![\d] )(?P<prefix>(?:\+|00)47[ ]?)?(?P<number>(?P<bare>[2-9]\d{7})"
    r"|[2-9]\d(?P<s>[ -])\d{2}(?P=s)\d{2}(?P=s)\d{2}|[2-9]\d{2}(?P<t>[ -])\d{2}(?P=t)\d{3})(?![\w]|[.,:/ -]\d)"
)


def _check_digits_ok(digits: np.ndarray) -> np.ndarray:
    """Vectorised mod-11 check for an (N, 11) array of digits."""
    def control(weights: np.ndarray, part: np.ndarray) -> np.ndarray:
        k = 11 - (part @ weights) % 11
        return np.where(k == 11, 0, k)  # 10 means "no valid number"

    k1 = control(_W1, digits[:, :9])
    k2 = control(_W2, digits[:, :10])
    return (k1 != 10) & (k2 != 10) & (k1 == digits[:, 9]) & (k2 == digits[:, 10])


def _date_ok(digits: np.ndarray) -> np.ndarray:
    day = digits[:, 0] * 10 + digits[:, 1]
    month = digits[:, 2] * 10 + digits[:, 3]
    day = np.where(day > 40, day - 40, day)  # D-number: day + 40
    month = np.where(month > 40, month - 40, month)  # synthetic (test) numbers: month + 40 (Skatteetaten)
    month = np.where((month > 20) & (month <= 32), month - 20, month)  # H-number style: month + 20
    return (day >= 1) & (day <= 31) & (month >= 1) & (month <= 12)


def valid_national_ids(candidates: Iterable[str]) -> np.ndarray:
    """Boolean per 11-digit string: a valid fødselsnummer or D-number (date plausible, both check digits)."""
    cands = list(candidates)
    if not cands:
        return np.zeros(0, dtype=bool)
    raw = np.frombuffer("".join(cands).encode("ascii"), dtype=np.uint8).reshape(len(cands), 11)
    digits = (raw - ord("0")).astype(np.int64)
    return _check_digits_ok(digits) & _date_ok(digits)


def is_national_id(text: str) -> bool:
    s = re.sub(r"\s", "", text)
    return len(s) == 11 and s.isdigit() and bool(valid_national_ids([s])[0])


def generate_national_id(rng: np.random.Generator, d_number: bool = False) -> str:
    """A random valid fødselsnummer (or D-number); used by tests and synthetic data."""
    while True:
        day = int(rng.integers(1, 29)) + (40 if d_number else 0)
        month = int(rng.integers(1, 13))
        year = int(rng.integers(0, 100))
        ind = int(rng.integers(0, 1000))
        base = np.array([int(c) for c in f"{day:02d}{month:02d}{year:02d}{ind:03d}"])
        k1 = 11 - int(base @ _W1) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        k2 = 11 - int(np.append(base, k1) @ _W2) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        return "".join(map(str, base)) + f"{k1}{k2}"


@dataclass(frozen=True)
class Hit:
    kind: str  # national_id | email | phone | project_value | full_name
    text: str  # the matched text exactly as written in the file (checkers only: it quotes the file)


def mask(text: str) -> str:
    """What anyone may be shown of a match: its first and last two characters."""
    return text[:2] + "*" * max(0, len(text) - 4) + text[-2:] if len(text) > 4 else "*" * len(text)


_mask = mask

_WORD = re.compile(r"\w+")
# Where a line of a text file is split into cells for whole-value matching.
_FIELD_SPLIT = re.compile(r"\s*[,;\t|]\s*|\s{2,}")  # delimiters, or the padding of a printed table
_MAX_VALUE_TOKENS = 8


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _looks_like_date(digits: str) -> bool:
    """An 8-digit run that reads as YYYYMMDD or DDMMYYYY (1900-2099): a date, never a phone number."""
    def ymd(y: int, m: int, d: int) -> bool:
        return 1900 <= y <= 2099 and 1 <= m <= 12 and 1 <= d <= 31

    return ymd(int(digits[:4]), int(digits[4:6]), int(digits[6:])) or ymd(int(digits[4:]), int(digits[2:4]),
                                                                             int(digits[:2]))


class IdentifierScanner:
    """Finds direct identifiers in strings; build once per check, call ``scan`` per text.

    Project values (from the catalogue's direct-identifier columns) match on whole tokens only: a value
    of several tokens (a full address) or with a digit (a code) wherever its tokens appear in order; a
    single word (a first name, a surname) only as a whole cell or field, or next to another such word
    (a full name). A value that is also a word of the catalogue's quasi-identifier values (``ignore``:
    unit, place, job names) never matches: in Trondheim "Berg" is a surname and a neighbourhood.
    """

    def __init__(self, rule: IdentifierRule, project_values: Iterable[str] = (), ignore: Iterable[str] = ()):
        self.rule = rule
        negative: set[str] = set()
        for v in ignore:
            toks = _tokens(str(v))
            if toks:
                negative.add(" ".join(toks))
                negative.update(toks)
        self.ignored = negative
        inline: set[str] = set()
        words: set[str] = set()
        name_words: set[str] = set()  # short ones too ("Tor", "Vik"): in a capitalised run of names only
        if rule.project_values:
            for v in project_values:
                toks = _tokens(v or "")
                key = " ".join(toks)
                if len(toks) == 1 and key.isalpha() and len(key) >= 2:
                    name_words.add(key)
                if not toks or key in negative or len(toks) > _MAX_VALUE_TOKENS:
                    continue
                if len(v.strip()) < rule.min_value_length:
                    continue
                if len(toks) > 1 or any(ch.isdigit() for ch in key):
                    inline.add(key)
                else:
                    words.add(key)
        self._inline = inline
        self._words = words
        self._name_words = name_words
        self._lengths = sorted({k.count(" ") + 1 for k in inline}, reverse=True)
        self.project_values = inline | words

    def scan(self, text: str) -> list[Hit]:
        """Identifiers in ``text``: a cell, a header, or a line of a text file."""
        if not text or not self.rule.enabled:
            return []
        hits: list[Hit] = []
        if self.rule.national_id and len(text) >= 11:
            found = [(m.group(0), m.group(1) + m.group(2)) for m in _NID_RE.finditer(text)]
            if found:
                ok = valid_national_ids([digits for _, digits in found])
                hits += [Hit("national_id", shown) for (shown, _), good in zip(found, ok) if good]
        if self.rule.email and "@" in text:
            hits += [Hit("email", m.group(0)) for m in _EMAIL_RE.finditer(text)]
        if self.rule.phone and len(text) >= 8:
            for m in _PHONE_RE.finditer(text):
                shown = m.group(0).strip()
                digits = m.group("bare") or ""
                prefixed = m.group("prefix") is not None
                # a bare 8-digit run is a phone number only with a country code or alone in its cell, and
                # never when it reads as a date (20250110); grouped forms (22 33 44 55, 915 55 123) are
                # Norway's written formats, which a date, a time, a year range or postcode+count never take
                alone = text.strip() == shown or shown in _FIELD_SPLIT.split(text.strip())
                if m.group("bare") and not (prefixed or alone) or (
                        m.group("bare") and not prefixed and _looks_like_date(digits)):
                    continue
                hits.append(Hit("phone", shown))
        if self._inline or self._words or self._name_words:
            # an e-mail address is reported as one; its parts are not names on their own
            hits += self._project_hits(_EMAIL_RE.sub(" ", text) if "@" in text else text)
        return hits

    def _project_hits(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        toks = _tokens(text)
        if not toks:
            return hits
        fields = [text] if len(toks) <= _MAX_VALUE_TOKENS else []
        fields += [f for f in _FIELD_SPLIT.split(text) if f and f != text]
        for f in fields:
            key = " ".join(_tokens(f))
            if key in self._words:
                hits.append(Hit("project_value", f.strip()))
        if self._inline:
            n = len(toks)
            for i in range(n):
                for size in self._lengths:
                    if i + size <= n and " ".join(toks[i:i + size]) in self._inline:
                        hits.append(Hit("project_value", " ".join(toks[i:i + size])))
                        break
        if self._name_words:
            # two or more capitalised name words in a row: a full name ("Ingrid Hansen", "Tor Vik"),
            # whatever else the cell holds; "cases per unit" is prose, "Per Vik" a person. A word that
            # is also a place counts ("Per Berg") but two places are not a person ("Lade Moholt").
            run: list[str] = []
            for w in _WORD.findall(text) + [""]:
                if w[:1].isupper() and w.casefold() in self._name_words:
                    run.append(w)
                    continue
                if len(run) >= 2 and any(x.casefold() not in self.ignored for x in run):
                    hits.append(Hit("full_name", " ".join(run)))
                run = []
        seen: set[tuple[str, str]] = set()
        out = []
        for h in hits:
            if (h.kind, h.text.casefold()) not in seen:
                seen.add((h.kind, h.text.casefold()))
                out.append(h)
        return out

    def explain(self, hit: Hit) -> str:
        """The researcher-safe message: what kind of identifier, its value masked."""
        return f"contains {KIND_WORDS[hit.kind]} ({mask(hit.text)}); direct identifiers may never leave"


KIND_WORDS = {
    "national_id": "a Norwegian national identity number (fødselsnummer or D-number)",
    "email": "an e-mail address",
    "phone": "a phone number",
    "project_value": "a value of a direct-identifier column of the project's data",
    "full_name": "a full name made of values of the project's name columns",
}
