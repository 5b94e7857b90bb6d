"""Identifier scan: national identity numbers (mod-11), e-mail, phone, project identifier values."""

from __future__ import annotations

import numpy as np
import pytest

from egress_review.checks.identifiers import IdentifierScanner, generate_national_id, is_national_id, \
    valid_national_ids
from egress_review.checks.policy import IdentifierRule

pytestmark = pytest.mark.unit


def reference_check_digits_ok(s: str) -> bool:
    """An independent, loop-based reading of the published algorithm (Skatteetaten)."""
    d = [int(c) for c in s]
    w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
    w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    k1 = 11 - sum(a * b for a, b in zip(w1, d[:9])) % 11
    k1 = 0 if k1 == 11 else k1
    k2 = 11 - sum(a * b for a, b in zip(w2, d[:10])) % 11
    k2 = 0 if k2 == 11 else k2
    return k1 != 10 and k2 != 10 and d[9] == k1 and d[10] == k2


def test_no_false_positive_on_100000_random_numbers_failing_the_check_digits():
    rng = np.random.default_rng(2024)
    numbers = [f"{x:011d}" for x in rng.integers(0, 10**11, 100_000)]
    failing = [s for s in numbers if not reference_check_digits_ok(s)]
    assert len(failing) > 98_000
    assert not valid_national_ids(failing).any()
    # and through the scanner, in running text, a sample of them
    scanner = IdentifierScanner(IdentifierRule(phone=False))
    text = " ".join(failing[:20_000])
    assert scanner.scan(text) == []


def test_no_false_negative_on_valid_generated_numbers():
    rng = np.random.default_rng(7)
    fnr = [generate_national_id(rng) for _ in range(5_000)]
    dnr = [generate_national_id(rng, d_number=True) for _ in range(5_000)]
    assert all(reference_check_digits_ok(s) for s in fnr + dnr)
    assert valid_national_ids(fnr + dnr).all()
    scanner = IdentifierScanner(IdentifierRule())
    for s in fnr[:300] + dnr[:300]:
        for text in (s, f"pasient {s} ble", f"{s[:6]} {s[6:]}", f"id;{s};x"):
            hits = scanner.scan(text)
            assert [h.kind for h in hits] == ["national_id"], (text, hits)


def test_known_published_test_number():
    # a well-known valid synthetic fødselsnummer used in public documentation examples
    assert is_national_id("01010112345") is reference_check_digits_ok("01010112345")
    assert not is_national_id("12345678901")


def test_digits_embedded_in_longer_numbers_are_not_identity_numbers():
    rng = np.random.default_rng(1)
    s = generate_national_id(rng)
    scanner = IdentifierScanner(IdentifierRule())
    assert scanner.scan("9" + s) == [] and scanner.scan(s + "0") == []


def test_email_phone_and_project_values():
    scanner = IdentifierScanner(IdentifierRule(), project_values={"Kari Nordmann", "AB12345", "x"})
    kinds = lambda t: [h.kind for h in scanner.scan(t)]  # noqa: E731
    assert kinds("skriv til kari.nordmann@oslo.kommune.no") == ["email"]
    assert kinds("ring +47 915 55 123") == ["phone"]
    assert kinds("tlf 22 33 44 55") == ["phone"]
    assert kinds("91555123") == ["phone"]
    assert kinds("mean 91555123 days") == []  # a bare 8-digit number in a sentence is an amount, not a phone
    assert kinds("case of kari nordmann in Grefsen") == ["project_value"]
    assert kinds("code AB12345.") == ["project_value"]
    assert kinds("x marks") == []  # values shorter than min_value_length are not matched
    assert kinds("Grefsen 12, Sagene 45") == []
    explained = scanner.explain(scanner.scan("kari.nordmann@oslo.kommune.no")[0])
    assert "e-mail" in explained and "kari.nordmann" not in explained
