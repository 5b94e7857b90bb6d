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
_NID_RE = re.compile(r"(?<!\d)(\d{6})[ ]?(\d{5})(?!\d)")
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Norwegian numbers: 8 digits starting 2-9, optionally +47/0047, in groups "22 33 44 55" / "223 34 455".
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)47[ -]?)?([2-9]\d{2}[ -]?\d{2}[ -]?\d{3}|[2-9]\d[ -]?\d{2}[ -]?\d{2}[ -]?\d{2})(?![\w])"
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
    kind: str  # national_id | email | phone | project_value
    text: str


def _mask(text: str) -> str:
    return text[:2] + "*" * max(0, len(text) - 4) + text[-2:] if len(text) > 4 else "*" * len(text)


class IdentifierScanner:
    """Finds direct identifiers in strings; build once per check, call ``scan`` per text."""

    def __init__(self, rule: IdentifierRule, project_values: Iterable[str] = ()):
        self.rule = rule
        values = {v.strip() for v in project_values if v and len(v.strip()) >= rule.min_value_length}
        self.project_values = values if rule.project_values else set()
        self._value_re = None
        if self.project_values:
            alternatives = "|".join(re.escape(v) for v in sorted(self.project_values, key=len, reverse=True))
            self._value_re = re.compile(rf"(?<![\w])(?:{alternatives})(?![\w])", re.IGNORECASE)

    def scan(self, text: str) -> list[Hit]:
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
        if self.rule.phone:
            for m in _PHONE_RE.finditer(text):
                digits = re.sub(r"\D", "", m.group(1))
                # A valid national id is reported as such; plain 8-digit numbers only when written like a phone
                # number (grouped, or with a country code) or alone in the text, to spare counts and amounts.
                grouped = " " in m.group(0).strip() or "-" in m.group(1) or m.group(0).lstrip().startswith(("+", "00"))
                if len(digits) == 8 and (grouped or text.strip() == m.group(0).strip()):
                    hits.append(Hit("phone", m.group(0).strip()))
        if self._value_re is not None:
            hits += [Hit("project_value", m.group(0)) for m in self._value_re.finditer(text)]
        return hits

    def explain(self, hit: Hit) -> str:
        what = {
            "national_id": "a Norwegian national identity number (fødselsnummer or D-number)",
            "email": "an e-mail address",
            "phone": "a phone number",
            "project_value": "a value of a direct-identifier column of the project's data",
        }[hit.kind]
        return f"contains {what} ({_mask(hit.text)}); direct identifiers may never leave"
